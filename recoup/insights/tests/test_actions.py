"""The next best action: the pure rules with plain values, then the selector through the database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from recoup.activity.models import Call
from recoup.activity.services import promise_create
from recoup.dunning.models import DunningLevel, MessageStatus, MessageTemplate, OutboundMessage
from recoup.insights import actions
from recoup.insights.actions import ALL, DEFAULT, OWN, SIMILAR, Evidence, Tally
from recoup.insights.models import CustomerPriority, Method
from recoup.insights.tests.support import D
from recoup.ledger import services as ledger

TODAY = D(2026, 6, 1)  # a Monday


def action(own: Tally | None = None, similar: Tally | None = None, **kwargs: Any) -> actions.NextBestAction:
    values = {
        "customer_id": 1,
        "own": own or Tally(),
        "similar": similar or Tally(),
        "similar_source": SIMILAR,
        "today": TODAY,
        "default_hour": 9,
        "overdue": True,
        "promise_pending": False,
        "p_paid_7_days": None,
        **kwargs,
    }
    return actions.suggest(**values)


# The window of a touch -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("paid_on", "answered"),
    [(D(2026, 3, 1), False), (D(2026, 3, 2), True), (D(2026, 3, 9), True), (D(2026, 3, 10), False)],
)
def test_a_payment_answers_a_touch_from_its_day_to_day_7_and_not_on_day_8(paid_on, answered):
    assert actions.responded(D(2026, 3, 2), [paid_on]) is answered


@pytest.mark.parametrize(
    ("day", "counted"),
    [(D(2025, 5, 31), False), (D(2025, 6, 1), True), (D(2026, 5, 25), True), (D(2026, 5, 26), False)],
)
def test_only_touches_whose_week_has_passed_and_within_the_year_are_judged(day, counted):
    assert actions.judged(day, TODAY) is counted


def test_touches_are_counted_by_kind_tone_local_weekday_and_hour():
    paris = dt.timezone(dt.timedelta(hours=2))
    touches = [
        ("call", dt.datetime(2026, 4, 6, 10, 30, tzinfo=paris), None),  # Monday, paid on day 7
        ("call", dt.datetime(2026, 4, 6, 10, 5, tzinfo=paris), None),  # the same slot
        (
            "email",
            dt.datetime(2026, 4, 14, 9, 0, tzinfo=paris),
            "firm",
        ),  # Tuesday, paid on day 8: not answered
        ("email", dt.datetime(2026, 5, 28, 9, 0, tzinfo=paris), "firm"),  # too recent to judge
    ]

    result = actions.tally(touches, [D(2026, 4, 13), D(2026, 4, 22)], today=TODAY)

    assert {k: tuple(v) for k, v in result.counts.items()} == {
        ("call", "", 0, 10): (2, 2),
        ("email", "firm", 1, 9): (1, 0),
    }
    assert result.of("kind", "call") == (2, 2)
    assert result.of("tone", "firm") == (1, 0)
    assert result.total() == (3, 2)


@pytest.mark.parametrize(("risk", "band"), [(None, -1), (0, 0), (19, 0), (20, 1), (79, 3), (80, 4), (100, 4)])
def test_risk_bands_are_20_points_wide_with_100_in_the_top_one(risk, band):
    assert actions.risk_band(risk) == band


# Smoothing and the channel ---------------------------------------------------------------------------------


def test_one_answered_call_is_smoothed_towards_the_similar_customers_not_100_percent():
    own = Tally({("call", "", 0, 10): (1, 1)})
    similar = Tally({("email", "friendly", 0, 9): (10, 3)})

    result = action(own, similar)

    base = (3 + 4 * 0.5) / (10 + 4)  # the similar customers' overall rate, smoothed towards 0.5
    assert result.channel_evidence == (
        Evidence("call", 1, 1, 1.0, (1 + 4 * base) / (1 + 4), OWN),  # 48.6 %, from the customer's one call
        Evidence("email", 10, 3, 0.3, (3 + 4 * base) / (10 + 4), SIMILAR),  # 31.6 %
    )
    assert (result.channel, result.contact_channel, result.wait_reason) == ("call", "call", "")
    assert result.reason == (
        "Calls did best: 49 % followed by a payment within 7 days (smoothed), against 32 % for emails."
    )


def test_the_customers_own_rate_is_smoothed_towards_the_similar_rate_of_the_same_channel():
    own = Tally({("email", "friendly", 2, 9): (2, 0)})
    similar = Tally({("email", "friendly", 2, 9): (20, 10), ("call", "", 2, 15): (20, 2)})

    result = action(own, similar)

    base = (12 + 2) / (40 + 4)
    similar_email = (10 + 4 * base) / 24
    assert result.channel_evidence[1] == Evidence("email", 2, 0, 0.0, 4 * similar_email / 6, OWN)
    assert result.channel_evidence[0] == Evidence("call", 20, 2, 0.1, (2 + 4 * base) / 24, SIMILAR)
    assert result.channel == "email"  # 0 of 2 of its own, but 50 % among its peers: 0.31 against 0.14


def test_a_tie_goes_to_email_and_an_unreachable_channel_is_not_suggested():
    assert action().contact_channel == "email"  # nothing known: both 0.5

    calls_work = Tally({("call", "", 0, 10): (10, 9), ("email", "friendly", 0, 9): (10, 1)})
    best = action(calls_work)
    no_phone = action(calls_work, can_call=False)

    assert best.channel == "call"
    assert (no_phone.channel, no_phone.reason) == ("email", "Only an email can reach this customer.")


# Tone and timing -------------------------------------------------------------------------------------------


def test_the_tone_is_the_better_smoothed_one_a_tie_friendly():
    firm_works = Tally({("email", "firm", 0, 9): (4, 3), ("email", "friendly", 0, 9): (4, 1)})

    result = action(firm_works)

    base = 0.5  # no similar touches
    assert result.tone_evidence == (
        Evidence("friendly", 4, 1, 0.25, (1 + 4 * base) / 8, OWN),
        Evidence("firm", 4, 3, 0.75, (3 + 4 * base) / 8, OWN),
    )
    assert result.tone == "firm"
    assert action().tone == "friendly"


def test_timing_comes_from_the_customer_then_the_similar_customers_then_the_dunning_default():
    # Own: Tuesday has 3 judged touches (enough), 14:00 only 2 (too few); peers: 11:00 did best of theirs.
    own = Tally({("call", "", 1, 14): (2, 2), ("call", "", 1, 16): (1, 1)})
    similar = Tally(
        {("call", "", 3, 11): (6, 5), ("email", "friendly", 0, 9): (30, 6), ("call", "", 4, 14): (2, 2)}
    )

    result = action(own, similar)

    base = (13 + 2) / (38 + 4)
    assert (result.weekday, result.hour) == (1, 11)
    assert result.weekday_evidence == Evidence("Tuesday", 3, 3, 1.0, (3 + 4 * base) / 7, OWN)
    assert result.hour_evidence == Evidence("11:00", 6, 5, 5 / 6, (5 + 4 * base) / 10, SIMILAR)

    saturday = action(today=D(2026, 6, 6), default_hour=8)
    wednesday = action(today=D(2026, 6, 3), similar_source=ALL)

    assert (saturday.weekday, saturday.hour) == (0, 8)  # the next Monday, at the dunning send time
    assert saturday.weekday_evidence == Evidence("Monday", 0, 0, None, 0.5, DEFAULT)
    assert saturday.hour_evidence.source == DEFAULT
    assert (wednesday.weekday, wednesday.hour) == (2, 9)


def test_equal_slots_go_to_the_one_with_more_touches_then_the_earlier():
    similar = Tally({("call", "", 4, 10): (3, 3), ("call", "", 2, 10): (3, 3), ("call", "", 5, 10): (6, 6)})

    result = action(similar=similar)

    assert result.weekday == 5  # 6 of 6 smooths higher than 3 of 3
    assert action(similar=Tally({("call", "", 4, 10): (3, 3), ("call", "", 2, 10): (3, 3)})).weekday == 2


# Waiting ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "channel", "reason"),
    [
        ({"promise_pending": True, "p_paid_7_days": 0.9}, "wait", "promise_pending"),
        ({"overdue": False}, "wait", "nothing_overdue"),
        ({"p_paid_7_days": 0.6}, "wait", "about_to_pay"),
        ({"p_paid_7_days": 0.59}, "email", ""),
        ({"p_paid_7_days": None}, "email", ""),
    ],
)
def test_it_waits_on_a_pending_promise_nothing_overdue_or_a_likely_payment(kwargs, channel, reason):
    result = action(**kwargs)

    assert (result.channel, result.wait_reason, result.contact_channel) == (channel, reason, "email")


def test_the_wait_reasons_read_as_sentences():
    assert action(promise_pending=True).reason == "A promise to pay is pending: wait for it."
    assert action(overdue=False).reason == "Nothing is overdue."
    assert action(p_paid_7_days=0.72).reason == "Likely to pay within 7 days without a touch (72 %)."


# Through the database --------------------------------------------------------------------------------------


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def sent_email(customer: Any, at: dt.datetime, *, level: Any = None, template: Any = None) -> OutboundMessage:
    return OutboundMessage.objects.create(
        customer=customer,
        level=level,
        template=template,
        request_key="" if level else f"key-{at.isoformat()}",
        channel="email",
        as_of=at.date(),
        send_at=at,
        sent_at=at,
        status=MessageStatus.SENT,
    )


@pytest.fixture
def history(books):
    """A customer in Paris (UTC+2 in spring) who answers calls and not firm emails."""
    customer = books.customer("PARIS", timezone="Europe/Paris", segment="retail")
    ledger.contact_create(actor=None, customer=customer, name="AP", phone="+33 1 23 45 67 89")
    invoices = [books.invoice(customer, D(2026, 3, 1) + dt.timedelta(days=i)) for i in range(4)]
    books.invoice(customer, D(2026, 5, 1))  # still open, overdue
    # Monday 6 April, 08:30 UTC = 10:30 in Paris: paid on day 7.
    Call.objects.create(customer=customer, outcome="reached", called_at=utc(2026, 4, 6, 8, 30))
    books.pay(invoices[0], "100.00", D(2026, 4, 13))
    # Monday 20 April 22:30 UTC = Tuesday 21 April 00:30 in Paris: paid on the 28th, day 7 of the local day
    # (day 8 of the UTC one).
    Call.objects.create(customer=customer, outcome="reached", called_at=utc(2026, 4, 20, 22, 30))
    books.pay(invoices[1], "100.00", D(2026, 4, 28))
    # A final notice (firm), paid on day 8: not answered.
    final = DunningLevel.objects.get(policy__is_default=True, name="Final notice")
    sent_email(customer, utc(2026, 3, 2, 7, 0), level=final)
    books.pay(invoices[2], "100.00", D(2026, 3, 10))
    # A reminder (friendly) and an email by hand with a firm template, neither answered; a failed email is
    # no touch, nor is a call of the last 7 days.
    reminder = DunningLevel.objects.get(policy__is_default=True, name="Reminder")
    sent_email(customer, utc(2026, 2, 2, 7, 0), level=reminder)
    firm = MessageTemplate.objects.create(name="Firm word", tone="firm", subject="s", body="b")
    sent_email(customer, utc(2026, 1, 12, 15, 0), template=firm)
    failed = sent_email(customer, utc(2026, 1, 19, 15, 0), template=firm)
    OutboundMessage.objects.filter(pk=failed.pk).update(status=MessageStatus.FAILED)
    Call.objects.create(customer=customer, outcome="reached", called_at=utc(2026, 5, 29, 8, 0))
    books.pay(invoices[3], "100.00", D(2026, 5, 30))
    return customer


def test_the_selector_counts_the_customers_touches_in_its_own_time_zone(history):
    result = actions.next_best_action(history.pk, today=TODAY)

    assert result is not None
    assert result.similar_group == "all customers"  # one retail customer: too small a group
    call, email = result.channel_evidence
    assert (call.option, call.n, call.k, call.source) == ("call", 2, 2, OWN)
    assert (email.option, email.n, email.k, email.source) == ("email", 3, 0, OWN)
    base = (2 + 4 * 0.5) / (5 + 4)  # all customers: this one alone
    assert call.smoothed == pytest.approx((2 + 4 * (2 + 4 * base) / 6) / 6)
    assert (result.channel, result.contact_channel, result.timezone) == ("call", "call", "Europe/Paris")
    friendly, firm = result.tone_evidence
    assert (friendly.n, friendly.k, firm.n, firm.k) == (1, 0, 2, 0)
    assert result.tone == "friendly"
    # Monday has 4 touches (the call at 10:30, the final notice and the reminder at 08:00 in winter, the email
    # by hand at 16:00); no hour has 3, so the hour is the dunning send time.
    assert result.weekday_evidence == Evidence("Monday", 4, 1, 0.25, result.weekday_evidence.smoothed, OWN)
    assert (result.weekday, result.hour, result.hour_evidence.source) == (0, 9, DEFAULT)


def test_a_pending_promise_and_a_high_chance_of_paying_make_it_wait(history):
    CustomerPriority.objects.create(
        customer=history,
        as_of=TODAY,
        method=Method.TERMS,
        currency="USD",
        open_amount=Decimal(100),
        amount_at_risk=Decimal(0),
        disputed_amount=Decimal(0),
        open_invoices=1,
        max_days_past_due=31,
        broken_promises=0,
        p_paid_7_days=0.65,
        risk=45,
        term_amount_at_risk=0,
        term_days_past_due=0,
        term_broken_promises=0,
        term_customer_risk=0,
        term_about_to_pay=0,
        term_open_dispute=0,
        scored_at=utc(2026, 6, 1, 2, 30),
    )
    about_to_pay = actions.next_best_action(history.pk, today=TODAY)
    promise_create(actor=None, customer=history, amount="100.00", promised_date=D(2026, 6, 5), made_on=TODAY)
    promised = actions.next_best_action(history.pk, today=TODAY)

    assert about_to_pay is not None and promised is not None
    assert (about_to_pay.channel, about_to_pay.wait_reason, about_to_pay.p_paid_7_days) == (
        "wait",
        "about_to_pay",
        0.65,
    )
    assert (promised.channel, promised.wait_reason, promised.contact_channel) == (
        "wait",
        "promise_pending",
        "call",
    )


def test_similar_customers_share_a_segment_and_risk_band_once_the_group_is_big_enough(books):
    peers = [books.customer(f"PEER-{i}", segment="wholesale") for i in range(actions.MIN_GROUP_CUSTOMERS)]
    other = books.customer("OTHER", segment="retail")
    for customer in [*peers, other]:
        invoice = books.invoice(customer, D(2026, 3, 1))
        Call.objects.create(customer=customer, outcome="reached", called_at=utc(2026, 3, 4, 14, 0))
        if customer is not other:
            books.pay(invoice, "100.00", D(2026, 3, 6))

    result = actions.next_best_actions([peers[0].pk, other.pk], today=TODAY)

    assert result[peers[0].pk].similar_group == "wholesale · not scored"
    base = (5 + 4 * 0.5) / (5 + 4)  # the wholesale customers: 5 calls, all answered
    peer_call = (1 + 4 * (5 + 4 * base) / 9) / 5
    assert result[peers[0].pk].channel_evidence[0] == Evidence(
        "call", 1, 1, 1.0, pytest.approx(peer_call), OWN
    )
    assert result[other.pk].similar_group == "all customers"
    assert result[other.pk].hour_evidence == Evidence(
        "14:00", 6, 5, 5 / 6, pytest.approx((5 + 4 * 0.7) / 10), ALL
    )
    assert actions.next_best_action(999_999, today=TODAY) is None
    assert actions.next_best_actions([], today=TODAY) == {}


@pytest.mark.parametrize("count", [1, 20])
def test_the_selector_runs_the_same_seven_queries_for_1_and_20_customers(
    books, django_assert_num_queries, count
):
    customers = []
    for i in range(count):
        customer = books.customer(f"C-{i}", segment=("a", "b", "c")[i % 3])
        invoice = books.invoice(customer, D(2026, 3, 1))
        Call.objects.create(customer=customer, outcome="reached", called_at=utc(2026, 3, 4, 14, 0))
        books.pay(invoice, "100.00", D(2026, 3, 6))
        customers.append(customer.pk)

    with django_assert_num_queries(7):
        result = actions.next_best_actions(customers, today=TODAY)

    assert sorted(result) == customers
    assert {r.channel_evidence[0].n for r in result.values()} == {1}
