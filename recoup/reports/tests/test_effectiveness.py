"""Reminder effectiveness over real dunning runs and real SMTP: a send is effective when an invoice it listed
is paid (not reversed) within 7 days of the send day, both days included."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import time_machine

from recoup.dunning import delivery
from recoup.dunning.models import MessageItem, OutboundMessage
from recoup.dunning.services import dunning_run
from recoup.ledger.models import Allocation
from recoup.ledger.services import allocation_reverse
from recoup.reports.effectiveness import reminder_effectiveness
from recoup.users.models import Role

D = dt.date
DUE = D(2026, 3, 2)  # a Monday
FIRST, SECOND, CALL = D(2026, 3, 5), D(2026, 3, 17), D(2026, 4, 1)  # DUE + 3, + 15, + 30: weekdays
pytestmark = pytest.mark.django_db


@contextmanager
def on(day: dt.date) -> Iterator[None]:
    with time_machine.travel(dt.datetime.combine(day, dt.time(12, 0), tzinfo=dt.UTC), tick=True):
        yield


def run(as_of: dt.date) -> None:
    with on(as_of):
        dunning_run(actor=None, as_of=as_of)
        delivery.deliver_due()


def pay(books: Any, invoice: Any, amount: str, day: dt.date) -> None:
    with on(day):
        books.pay(invoice, amount, day)


@pytest.fixture
def ledger(books, smtp) -> dict[str, Any]:
    """Six customers reminded on 03-05 (Reminder), the four still open on 03-17 (Second reminder), the three
    still open on 04-01 (Call: a call task and an email each)."""
    inv = {code: books.invoice(books.customer(code), DUE, "100.00", external_id=code) for code in "ABCDEF"}
    inv["E2"] = books.invoice(inv["E"].customer, DUE, "100.00", external_id="E2")

    pay(books, inv["F"], "50.00", FIRST - dt.timedelta(days=1))  # before the send: never counts
    run(FIRST)
    pay(books, inv["C"], "100.00", D(2026, 3, 6))  # day 1, but reversed on 03-09
    pay(books, inv["E"], "100.00", D(2026, 3, 7))  # one of the two invoices E's reminder listed
    with on(D(2026, 3, 9)):
        allocation_reverse(
            actor=None, allocation=Allocation.objects.get(invoice=inv["C"]), date=D(2026, 3, 9)
        )
    pay(books, inv["A"], "100.00", FIRST + dt.timedelta(days=7))  # day 7: counts
    pay(books, inv["B"], "100.00", FIRST + dt.timedelta(days=8))  # day 8: does not
    run(SECOND)
    pay(books, inv["D"], "100.00", SECOND + dt.timedelta(days=3))
    run(CALL)
    pay(books, inv["C"], "100.00", CALL + dt.timedelta(days=7))  # both the call and the email
    assert len(smtp.received) == 6 + 4 + 3  # the call tasks are no emails
    return inv


def figures(sends: int, effective: int, share: float | None) -> dict[str, Any]:
    return {"sends": sends, "effective": effective, "share": share}


def test_the_runs_sent_what_the_figures_count(ledger):
    sent = OutboundMessage.objects.filter(status="sent")
    assert sorted(set(sent.values_list("level__name", "channel"))) == [
        ("Call", "call"),
        ("Call", "email"),
        ("Reminder", "email"),
        ("Second reminder", "email"),
    ]
    assert sent.count() == 16
    assert set(
        MessageItem.objects.filter(message__level__name="Reminder").values_list(
            "invoice__external_id", flat=True
        )
    ) == {"A", "B", "C", "D", "E", "E2", "F"}


def test_share_paid_within_7_days_by_level_by_channel_and_overall(ledger):
    report = reminder_effectiveness(start=FIRST, end=CALL).as_dict()

    assert report == {
        "period": {"from": "2026-03-05", "to": "2026-04-01"},
        "days": 7,
        # A (day 7), E (one of two invoices), D (second reminder), C's call and email (day 7).
        **figures(16, 5, 31.25),
        "by_level": [
            {"level": "Reminder", **figures(6, 2, 33.33)},  # not B (day 8), C (reversed), D, F (before)
            {"level": "Second reminder", **figures(4, 1, 25.0)},
            {"level": "Call", **figures(6, 2, 33.33)},
        ],
        "by_channel": [
            {"channel": "email", **figures(13, 4, 30.77)},
            {"channel": "letter", **figures(0, 0, None)},
            {"channel": "call", **figures(3, 1, 33.33)},
        ],
    }


def test_day_7_counts_and_day_8_does_not(ledger):
    first = reminder_effectiveness(start=FIRST, end=FIRST)
    assert (first.overall.sends, first.overall.effective) == (6, 2)
    assert (
        reminder_effectiveness(start=FIRST, end=FIRST, customer_ids=[ledger["A"].customer_id]).as_dict()[
            "effective"
        ]
        == 1
    )  # paid on day 7
    b_only = reminder_effectiveness(start=FIRST, end=FIRST, customer_ids=[ledger["B"].customer_id])
    assert (b_only.overall.sends, b_only.overall.effective) == (1, 0)  # paid on day 8
    wider = reminder_effectiveness(start=FIRST, end=FIRST, days=8, customer_ids=[ledger["B"].customer_id])
    assert (wider.overall.sends, wider.overall.effective) == (1, 1)


def test_a_reversed_payment_does_not_count(ledger):
    c_first = reminder_effectiveness(start=FIRST, end=FIRST, customer_ids=[ledger["C"].customer_id])
    assert (c_first.overall.sends, c_first.overall.effective) == (1, 0)


def test_three_queries_whatever_the_number_of_sends(ledger, django_assert_num_queries):
    with django_assert_num_queries(3):
        reminder_effectiveness(start=FIRST, end=CALL)


def test_no_sends_no_share(db):
    report = reminder_effectiveness(start=FIRST, end=CALL).as_dict()
    assert report["sends"] == 0 and report["share"] is None
    assert report["by_level"] == []
    assert [row["share"] for row in report["by_channel"]] == [None, None, None]


def test_the_api_reads_the_report_for_every_role(ledger, client_for):
    with on(D(2026, 4, 10)):
        response = client_for(Role.VIEWER).get(
            "/api/v1/reports/reminder-effectiveness", {"from": "2026-03-05", "to": "2026-03-17"}
        )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "period": {"from": "2026-03-05", "to": "2026-03-17"},
        "days": 7,
        **figures(10, 3, 30.0),
        "by_level": [
            {"level": "Reminder", **figures(6, 2, 33.33)},
            {"level": "Second reminder", **figures(4, 1, 25.0)},
        ],
        "by_channel": [
            {"channel": "email", **figures(10, 3, 30.0)},
            {"channel": "letter", **figures(0, 0, None)},
            {"channel": "call", **figures(0, 0, None)},
        ],
    }


def test_the_api_rejects_a_bad_period_with_field_errors(db, client_for):
    client = client_for(Role.VIEWER)
    backwards = client.get(
        "/api/v1/reports/reminder-effectiveness", {"from": "2026-03-17", "to": "2026-03-05"}
    )
    assert backwards.status_code == 400
    assert "from" in backwards.json()
    missing = client.get("/api/v1/reports/reminder-effectiveness", {"from": "2026-03-05"})
    assert missing.status_code == 400
    assert "to" in missing.json()


def test_the_dashboard_shows_the_figures_of_the_sends_whose_week_has_passed(ledger, manager):
    from django.test import Client

    from recoup.ledger.tests.test_views import tables

    client = Client()
    client.force_login(manager)
    with on(D(2026, 4, 8)):  # sends up to 04-01: all three runs
        every = tables(client.get("/dashboard/"))["reminder-effectiveness"]
    with on(D(2026, 4, 7)):  # 04-01's week has not passed: the Call level's sends are not judged yet
        earlier = tables(client.get("/dashboard/"))["reminder-effectiveness"]

    assert every == [
        ["Reminder", "6", "2", "33.33%"],
        ["Second reminder", "4", "1", "25%"],
        ["Call", "6", "2", "33.33%"],
        ["by email", "13", "4", "30.77%"],
        ["by call", "3", "1", "33.33%"],
        ["All reminders", "16", "5", "31.25%"],
    ]
    assert earlier == [
        ["Reminder", "6", "2", "33.33%"],
        ["Second reminder", "4", "1", "25%"],
        ["by email", "10", "3", "30%"],
        ["All reminders", "10", "3", "30%"],
    ]
