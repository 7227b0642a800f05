"""The workspace's pure arithmetic, with plain values and with hypothesis: promise outcomes at their
boundaries, payments attributed once, the kept rate, the score terms, round robin and assignment bands."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recoup.activity import rules
from recoup.activity.rules import Outcome, PaymentFacts, PromiseFacts

D = dt.date
DATE = D(2026, 3, 10)
DEADLINE = rules.promise_deadline(DATE, 3)


def outcome(paid: str, as_of: dt.date, tolerance: str = "10") -> Outcome:
    return rules.promise_outcome(
        amount=Decimal("100.00"),
        paid_amount=Decimal(paid),
        tolerance_percent=Decimal(tolerance),
        deadline=DEADLINE,
        as_of=as_of,
    )


def test_the_deadline_is_the_date_plus_grace_inclusive():
    assert rules.promise_deadline(D(2026, 3, 10), 3) == D(2026, 3, 13)
    assert rules.promise_window_end(deadline=DEADLINE, as_of=D(2026, 3, 11)) == D(2026, 3, 11)
    assert rules.promise_window_end(deadline=DEADLINE, as_of=D(2026, 3, 20)) == DEADLINE


@pytest.mark.parametrize(
    ("paid", "as_of", "expected"),
    [
        ("100.00", D(2026, 3, 1), Outcome.KEPT),  # paid in full: known at once, before the date
        ("100.01", D(2026, 3, 13), Outcome.KEPT),
        ("0", DATE, Outcome.PENDING),
        ("0", DEADLINE, Outcome.PENDING),  # the last day of grace is still pending
        ("0", DEADLINE + dt.timedelta(days=1), Outcome.BROKEN),
        ("90.00", DEADLINE, Outcome.PENDING),  # partial, before the deadline: not decided
        ("90.00", DEADLINE + dt.timedelta(days=1), Outcome.PARTIALLY_KEPT),  # shortfall 10 = 10 %
        ("89.99", DEADLINE + dt.timedelta(days=1), Outcome.BROKEN),  # shortfall 10.01 > 10 %
        ("99.99", DEADLINE + dt.timedelta(days=1), Outcome.PARTIALLY_KEPT),
    ],
)
def test_promise_outcomes_at_their_boundaries(paid, as_of, expected):
    assert outcome(paid, as_of) is expected


def test_nothing_paid_is_broken_whatever_the_tolerance():
    assert outcome("0", DEADLINE + dt.timedelta(days=1), tolerance="100") is Outcome.BROKEN
    assert outcome("0.01", DEADLINE + dt.timedelta(days=1), tolerance="100") is Outcome.PARTIALLY_KEPT
    assert outcome("99.99", DEADLINE + dt.timedelta(days=1), tolerance="0") is Outcome.BROKEN


MADE = D(2026, 3, 1)


def promise(pk: int, amount: str, end: dt.date, *, invoices=(), decided=False, made=MADE, cur="USD"):
    return PromiseFacts(
        id=pk,
        customer_id=1,
        amount=Decimal(amount),
        currency=cur,
        made_on=made,
        window_end=end,
        invoice_ids=frozenset(invoices),
        decided=decided,
    )


def payment(pk: int, amount: str, date: dt.date, *, invoice=10, reversed_on=None, cur="USD", customer=1):
    return PaymentFacts(
        id=pk,
        customer_id=customer,
        invoice_id=invoice,
        date=date,
        amount=Decimal(amount),
        currency=cur,
        reversed_on=reversed_on,
    )


def test_payments_count_inside_the_window_on_covered_invoices_and_not_reversed_by_its_end():
    end = D(2026, 3, 13)
    paid = rules.attribute_payments(
        [promise(1, "500", end, invoices={10})],
        [
            payment(1, "10", D(2026, 2, 28)),  # before the promise was made
            payment(2, "20", D(2026, 3, 1)),  # on the day it was made
            payment(3, "40", end),  # on the last day of grace
            payment(4, "80", end + dt.timedelta(days=1)),  # the day after
            payment(5, "160", D(2026, 3, 5), invoice=11),  # another invoice
            payment(6, "1", D(2026, 3, 5), reversed_on=D(2026, 3, 6)),  # reversed inside the window
            payment(7, "2", D(2026, 3, 5), reversed_on=end + dt.timedelta(days=1)),  # reversed after it
            payment(8, "4", D(2026, 3, 5), customer=2),  # another customer
        ],
        {"USD": Decimal(1)},
    )
    assert paid == {1: Decimal("62")}


def test_a_payment_counts_once_for_two_promises_and_the_decided_one_takes_first():
    payments = [payment(1, "100", D(2026, 3, 2)), payment(2, "30", D(2026, 3, 4))]
    later_decided = promise(1, "100", D(2026, 3, 20), decided=True)
    pending = promise(2, "100", D(2026, 3, 10))

    assert rules.attribute_payments([pending, later_decided], payments, {"USD": Decimal(1)}) == {
        1: Decimal("100"),
        2: Decimal("30"),
    }
    # Without the decided one, the pending promise would have counted the 100 again.
    assert rules.attribute_payments([pending], payments, {"USD": Decimal(1)}) == {2: Decimal("100")}


def test_payments_in_another_currency_count_at_the_rates_and_not_without_one():
    rates = {"USD": Decimal(1), "EUR": Decimal("1.08")}
    eur = promise(1, "100.00", D(2026, 3, 13), cur="EUR")
    usd_payments = [payment(1, "54.00", D(2026, 3, 2)), payment(2, "108.00", D(2026, 3, 3))]

    paid = rules.attribute_payments([eur], usd_payments, rates)
    assert paid == {1: Decimal("100.00")}
    assert rules.attribute_payments([eur], usd_payments[:1], rates) == {1: Decimal("50")}
    assert rules.attribute_payments([eur], usd_payments, {"USD": Decimal(1)}) == {1: Decimal(0)}
    assert rules.convert(Decimal("7"), "JPY", "JPY", {}) == Decimal("7")


def test_the_kept_rate_counts_partially_kept_as_come_due_but_not_kept():
    rate = rules.KeptRate(kept=2, partially_kept=1, broken=1)
    assert (rate.due, rate.rate) == (4, Decimal("0.5000"))
    assert rules.KeptRate(1, 0, 2).rate == Decimal("0.3333")
    assert rules.KeptRate(0, 0, 0).rate is None


def test_score_terms_weight_overdue_amounts_by_their_days_past_due():
    terms = rules.score_terms([(Decimal("1000.00"), 30), (Decimal("500.00"), 90), (Decimal("700.00"), 0)])
    assert terms == rules.ScoreTerms(
        overdue=Decimal("1500.00"), weighted_days=Decimal("50.0"), score=Decimal("75000.00")
    )
    assert rules.score_terms([(Decimal("5"), -3)]) == rules.ScoreTerms(
        Decimal("0.00"), Decimal(0), Decimal("0.00")
    )
    assert rules.score_terms([(Decimal("10"), 1)], places=0).score == Decimal("10")


amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1000000"), places=2)


@given(st.lists(st.tuples(amounts, st.integers(min_value=-30, max_value=800)), max_size=30))
def test_the_score_is_the_overdue_amount_times_its_weighted_days(items):
    terms = rules.score_terms(items)
    overdue = [(a, d) for a, d in items if d > 0]
    assert terms.overdue == sum((a for a, _ in overdue), Decimal(0))
    assert terms.score == sum((a * d for a, d in overdue), Decimal(0))
    if overdue:
        assert min(d for _, d in overdue) <= terms.weighted_days <= max(d for _, d in overdue)
        assert abs(terms.overdue * terms.weighted_days - terms.score) <= terms.overdue * Decimal("0.05")
    else:
        assert terms.weighted_days == 0


@given(st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=8, unique=True))
def test_round_robin_visits_every_member_once_per_turn(members):
    last = None
    seen = []
    for _ in members:
        last = rules.next_member(members, last)
        seen.append(last)
    assert sorted(seen) == sorted(members)
    assert rules.next_member(members, last) == seen[0]


def test_round_robin_starts_again_after_a_member_who_left():
    assert rules.next_member([3, 7, 9], None) == 3
    assert rules.next_member([3, 7, 9], 7) == 9
    assert rules.next_member([3, 7, 9], 9) == 3
    assert rules.next_member([3, 7, 9], 8) == 9  # 8 left the team
    assert rules.next_member([], 3) is None


@pytest.mark.parametrize(
    ("segment", "low", "high", "balance", "expected"),
    [
        ("", None, None, None, True),
        ("Retail", None, None, Decimal("5"), True),
        ("Enterprise", None, None, Decimal("5"), False),
        ("", "1000", "5000", Decimal("1000"), True),  # inclusive low
        ("", "1000", "5000", Decimal("4999.99"), True),
        ("", "1000", "5000", Decimal("5000"), False),  # exclusive high
        ("", "1000", None, Decimal("999.99"), False),
        ("", None, "1000", None, False),  # a band cannot take an unknown balance
    ],
)
def test_assignment_bands(segment, low, high, balance, expected):
    assert (
        rules.band_matches(
            rule_segment=segment,
            min_balance=Decimal(low) if low else None,
            max_balance=Decimal(high) if high else None,
            segment="Retail",
            balance=balance,
        )
        is expected
    )


@pytest.mark.parametrize(
    ("role", "owner", "task_role", "expected"),
    [
        ("manager", 99, "", True),
        ("admin", None, "manager", True),
        ("collector", 1, "", True),
        ("collector", 99, "", False),
        ("collector", None, "collector", True),
        ("collector", None, "", True),
        ("collector", None, "manager", False),
        ("resolver", 1, "", True),
        ("viewer", 1, "", False),
        ("viewer", None, "", False),
    ],
)
def test_who_may_act_on_a_task(role, owner, task_role, expected):
    assert rules.may_act_on_task(role=role, user_id=1, owner_id=owner, task_role=task_role) is expected


def facts(**kw):
    base = {
        "today": DATE,
        "task": None,
        "promise": None,
        "overdue_text": "",
        "oldest_days": 0,
        "has_phone": False,
    }
    return rules.CustomerFacts(**{**base, **kw})


def test_the_next_action_prefers_a_due_task_then_a_promise_then_the_overdue_balance():
    task = (7, "call", "Call Acme", DATE - dt.timedelta(days=2))
    promise_due = (3, "100.00 USD", DATE - dt.timedelta(days=1), DATE + dt.timedelta(days=2))
    assert rules.suggest(facts(task=task, promise=promise_due)).as_dict() == {
        "code": "task",
        "label": "Call Acme",
        "reason": "Your call task is 2 days overdue.",
        "task_id": 7,
        "promise_id": None,
    }
    promised = rules.suggest(facts(promise=promise_due, overdue_text="100.00 USD", oldest_days=9))
    assert (promised.code, promised.promise_id, promised.reason) == (
        rules.NextAction.PROMISE,
        3,
        "100.00 USD was promised by 2026-03-09; its grace ends 2026-03-12.",
    )
    call = rules.suggest(facts(overdue_text="250.00 USD", oldest_days=1, has_phone=True))
    assert (call.code, call.reason) == (
        rules.NextAction.CALL,
        "250.00 USD overdue, the oldest 1 day; nobody is on it.",
    )
    assert rules.suggest(facts(overdue_text="250.00 USD", oldest_days=4)).code is rules.NextAction.EMAIL
    later = rules.suggest(
        facts(task=(8, "review", "Review", DATE + dt.timedelta(days=3)), overdue_text="1 USD")
    )
    assert (later.code, later.reason) == (rules.NextAction.TASK, "Your review task is due 2026-03-13.")
    assert rules.suggest(facts()).code is rules.NextAction.NONE
