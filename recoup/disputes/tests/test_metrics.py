"""The dispute figures on a hand-built ledger, each worked out by hand beside the assertion."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command

from recoup.disputes import rules, selectors, services
from recoup.disputes.defaults import install_reasons
from recoup.ledger import services as ledger
from recoup.users.models import Role, Team

D = dt.date
AS_OF = D(2026, 6, 1)
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC), tick=True):
        yield


def test_cycle_time_hit_rate_open_disputes_and_the_disputed_share_of_overdue_ar(books, manager):
    install_reasons()
    ledger.fx_rate_set(actor=None, currency="EUR", date=D(2026, 5, 1), rate=Decimal("1.10"))
    usd = books.customer("USD")
    eur = books.customer("EUR", currency="EUR")
    a = books.invoice(usd, D(2026, 5, 1), "1000.00")  # overdue
    b = books.invoice(eur, D(2026, 4, 15), "500.00", currency="EUR")  # overdue: 550.00 USD
    c = books.invoice(usd, D(2026, 7, 1), "300.00")  # not yet due
    d = books.invoice(usd, D(2026, 5, 1), "200.00")  # overdue, disputed and resolved
    books.pay(a, "700.00", D(2026, 5, 20))  # 300.00 of A is open

    # Resolved in the period: 4 days (within the 5-day SLA) and 12 days (past the 10-day SLA).
    quick = services.dispute_open(
        actor=manager, invoice=d, reason="duplicate_billing", opened_on=D(2026, 5, 1)
    )
    services.dispute_resolve(actor=manager, dispute=quick, outcome="rejected", resolved_on=D(2026, 5, 5))
    slow = services.dispute_open(
        actor=manager, invoice=d, reason="pricing", amount="50.00", opened_on=D(2026, 5, 10)
    )
    services.dispute_resolve(actor=manager, dispute=slow, outcome="customer_paid", resolved_on=D(2026, 5, 22))
    # Open on the as-of date: 250 of A's 300 open, all of B, and C (not overdue: not in the share).
    services.dispute_open(
        actor=manager, invoice=a, reason="pricing", amount="250.00", opened_on=D(2026, 5, 25)
    )
    services.dispute_open(actor=manager, invoice=b, reason="quantity", opened_on=D(2026, 3, 20))
    services.dispute_open(actor=manager, invoice=c, reason="pricing", opened_on=AS_OF)

    figures = selectors.dispute_metrics(as_of=AS_OF)

    assert (figures.start, figures.end) == (D(2026, 3, 4), AS_OF)  # the 90 days to the as-of date
    assert figures.cycle == rules.CycleTime(resolved=2, mean_days=8.0, median_days=8.0)
    assert figures.sla_hit_rate == 50.0
    assert figures.open_count == 3
    assert figures.open_by_reason == {"Pricing": 2, "Quantity": 1}
    assert figures.open_by_age == {"0–7 days": 2, "8–30 days": 0, "31–60 days": 0, "over 60 days": 1}
    # Overdue AR: 300.00 (A) + 550.00 (B) + 200.00 (D) = 1,050.00 USD; disputed of it: 250.00 + 550.00.
    assert (figures.overdue_ar, figures.overdue_disputed) == (Decimal("1050.00"), Decimal("800.00"))
    assert figures.overdue_disputed_share == 76.19
    # As of a past date the same figures come from the ledger as it stood then.
    then = selectors.dispute_metrics(as_of=D(2026, 5, 3), start=D(2026, 5, 1), end=D(2026, 5, 3))
    assert (then.open_count, then.cycle.resolved, then.open_by_reason) == (
        2,
        0,
        {"Duplicate billing": 1, "Quantity": 1},
    )
    # On 2026-05-03: A 1,000.00, B 550.00 and D 200.00 overdue; disputed: B and all of D.
    assert (then.overdue_ar, then.overdue_disputed) == (Decimal("1750.00"), Decimal("750.00"))

    out = io.StringIO()
    call_command("disputes", "metrics", "--as-of", "2026-06-01", "--format", "json", stdout=out)
    data = json.loads(out.getvalue())
    assert data == {
        "as_of": "2026-06-01",
        "period": {"from": "2026-03-04", "to": "2026-06-01"},
        "currency": "USD",
        "resolved": 2,
        "cycle_time_mean_days": 8.0,
        "cycle_time_median_days": 8.0,
        "sla_hit_rate": 50.0,
        "open": 3,
        "open_by_reason": {"Pricing": 2, "Quantity": 1},
        "open_by_age": {"0–7 days": 2, "8–30 days": 0, "31–60 days": 0, "over 60 days": 1},
        "overdue_ar": "1050.00",
        "overdue_disputed": "800.00",
        "overdue_disputed_share": 76.19,
    }


def test_a_resolvers_figures_cover_the_disputes_of_their_team(books, manager, make_user):
    install_reasons()
    team = Team.objects.create(name="Sales")
    resolver = make_user(Role.RESOLVER, "sam")
    resolver.team = team
    resolver.save()
    invoice = books.invoice(books.customer("MINE"), D(2026, 5, 1), "100.00")
    services.dispute_open(actor=manager, invoice=invoice, reason="pricing", amount="10.00", team=team)
    services.dispute_open(actor=manager, invoice=invoice, reason="pricing", amount="20.00")

    assert selectors.dispute_metrics(as_of=AS_OF, user=resolver).open_count == 1
    assert selectors.dispute_metrics(as_of=AS_OF, user=manager).open_count == 2


def test_the_formulas():
    assert rules.cycle_time([]) == rules.CycleTime(0, None, None)
    assert rules.cycle_time([1, 2, 10]) == rules.CycleTime(3, 4.33, 2.0)
    assert rules.hit_rate([rules.SlaState.MET, rules.SlaState.MISSED, rules.SlaState.MET]) == 66.67
    assert rules.hit_rate([rules.SlaState.OVERDUE]) is None
    due = D(2026, 6, 10)
    states = [
        rules.sla_state(due_on=due, resolved_on=None, today=due + dt.timedelta(days=n))
        for n in (-3, -2, 0, 1)
    ]
    assert states == [
        rules.SlaState.ON_TRACK,
        rules.SlaState.DUE_SOON,
        rules.SlaState.DUE_SOON,
        rules.SlaState.OVERDUE,
    ]
    assert rules.sla_state(due_on=due, resolved_on=due, today=D(2027, 1, 1)) == rules.SlaState.MET
    assert (
        rules.sla_state(due_on=due, resolved_on=due + dt.timedelta(days=1), today=due)
        == rules.SlaState.MISSED
    )
    assert [rules.age_band(n) for n in (0, 7, 8, 30, 31, 60, 61)] == [
        "0–7 days",
        "0–7 days",
        "8–30 days",
        "8–30 days",
        "31–60 days",
        "31–60 days",
        "over 60 days",
    ]


def test_the_sla_command_escalates_once(books, manager):
    install_reasons()
    invoice = books.invoice(books.customer("CMD"), D(2026, 5, 1), "100.00")
    services.dispute_open(actor=manager, invoice=invoice, reason="tax", opened_on=D(2026, 5, 1))
    out = io.StringIO()
    call_command("disputes", "check-sla", "--as-of", "2026-05-20", stdout=out)
    call_command("disputes", "check-sla", "--as-of", "2026-05-21", stdout=out)
    assert out.getvalue() == "1 dispute past the SLA escalated.\n0 disputes past the SLA escalated.\n"


def test_the_notifications_command_sends_what_is_due(books, manager, make_user, smtp):
    install_reasons()
    resolver = make_user(Role.RESOLVER, "ron")
    invoice = books.invoice(books.customer("NOTE"), D(2026, 5, 1), "100.00")
    services.dispute_open(actor=manager, invoice=invoice, reason="tax", owner=resolver)
    out = io.StringIO()
    call_command("notifications", "send", stdout=out)
    call_command("notifications", "send", stdout=out)
    assert out.getvalue() == "Notifications: 1 sent\nNotifications: nothing due\n"
    assert [m.rcpt_tos for m in smtp.received] == [["ron@example.com"]]
