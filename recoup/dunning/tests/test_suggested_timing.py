"""A policy with `use_suggested_timing` sends at the customer's suggested hour (the insights' next best
action), on the day it would have sent anyway; without the flag, or with no evidence of an hour, at the
configured send time."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from recoup.activity.models import Call
from recoup.dunning.models import DunningPolicy
from recoup.dunning.planning import build_plan

D = dt.date
AS_OF = D(2026, 7, 1)  # a Wednesday
PARIS = ZoneInfo("Europe/Paris")
pytestmark = pytest.mark.django_db


@pytest.fixture
def customers(books):
    """PARIS answered three calls at 16:00 its time; NEW has no history of its own. Both have an overdue
    invoice."""
    paris = books.customer("PARIS", timezone="Europe/Paris", country="FR")
    for week in range(3):
        called = dt.datetime(2026, 5, 4, 14, 0, tzinfo=dt.UTC) + dt.timedelta(weeks=week)  # 16:00 in Paris
        Call.objects.create(customer=paris, outcome="reached", called_at=called)
        books.pay(books.invoice(paris, D(2026, 4, 1)), "100.00", called.date() + dt.timedelta(days=2))
    books.invoice(paris, D(2026, 6, 25))
    new = books.customer("NEW", timezone="Europe/Paris", country="FR")
    books.invoice(new, D(2026, 6, 25))
    return paris, new


def send_times() -> dict[str, set[dt.datetime]]:
    plan = build_plan(as_of=AS_OF)
    return {p.customer.external_id: {c.send_at for c in p.communications} for p in plan.customers}


def test_without_the_flag_every_message_goes_at_the_configured_send_time(customers):
    assert send_times() == {
        "PARIS": {dt.datetime(2026, 7, 1, 9, 0, tzinfo=PARIS)},
        "NEW": {dt.datetime(2026, 7, 1, 9, 0, tzinfo=PARIS)},
    }


def test_with_the_flag_the_send_moves_to_the_suggested_hour_on_the_same_day(customers):
    DunningPolicy.objects.filter(is_default=True).update(use_suggested_timing=True)

    times = send_times()

    assert times == {
        "PARIS": {dt.datetime(2026, 7, 1, 16, 0, tzinfo=PARIS)},  # its calls were answered at 16:00
        # Too few customers for a group of similar ones: all customers' calls, PARIS's, answer for it.
        "NEW": {dt.datetime(2026, 7, 1, 16, 0, tzinfo=PARIS)},
    }
    assert [t.astimezone(dt.UTC) for t in times["PARIS"]] == [dt.datetime(2026, 7, 1, 14, 0, tzinfo=dt.UTC)]


def test_with_the_flag_and_no_evidence_of_an_hour_the_send_time_stays(customers):
    DunningPolicy.objects.filter(is_default=True).update(use_suggested_timing=True)
    Call.objects.all().delete()

    assert send_times() == {
        "PARIS": {dt.datetime(2026, 7, 1, 9, 0, tzinfo=PARIS)},
        "NEW": {dt.datetime(2026, 7, 1, 9, 0, tzinfo=PARIS)},
    }


def test_the_flag_of_another_policy_changes_nothing(customers, books):
    DunningPolicy.objects.create(name="Other", use_suggested_timing=True)

    assert send_times()["PARIS"] == {dt.datetime(2026, 7, 1, 9, 0, tzinfo=PARIS)}
