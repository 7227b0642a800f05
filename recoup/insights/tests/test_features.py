"""Features as of a date, from a ledger small enough to work out by hand."""

from __future__ import annotations

import math

import hypothesis
import numpy as np
import pytest
from hypothesis import strategies as st

from recoup.insights.features import (
    FEATURE_NAMES,
    NEVER,
    FeatureBuilder,
    first_settled,
    training_moments,
)
from recoup.insights.tests.support import D, facts_from, o, synthetic_facts

# Customer 1: A settled early, B late, C open and half disputed, D the invoice predicted, E issued and settled
# on the day of the prediction. Customer 2: one invoice of its own.
LEDGER = [
    (1, D(2025, 1, 1), D(2025, 1, 31), 100.0, D(2025, 1, 21)),  # A: 20 days, 10 early
    (1, D(2025, 1, 10), D(2025, 2, 9), 200.0, D(2025, 2, 19)),  # B: 40 days, 10 late
    (1, D(2025, 2, 1), D(2025, 3, 3), 300.0, None),  # C: open
    (1, D(2025, 3, 1), D(2025, 3, 31), 100.0, None),  # D: the moment's invoice
    (1, D(2025, 3, 1), D(2025, 3, 31), 50.0, D(2025, 3, 1)),  # E: paid the day it was issued
    (2, D(2025, 1, 5), D(2025, 2, 4), 999.0, D(2025, 2, 1)),
]


@pytest.fixture
def facts():
    return facts_from(
        LEDGER,
        disputes=[(2, D(2025, 2, 10), None, 150.0)],
        broken=[(1, D(2025, 2, 20)), (1, D(2025, 4, 1))],
        limits={1: 1000.0},
    )


def features(facts, index: int, day) -> dict[str, float]:
    row = FeatureBuilder(facts).build(np.array([index]), np.array([o(day)]))[0]
    return dict(zip(FEATURE_NAMES, row.tolist(), strict=True))


def test_first_settled_is_the_first_day_the_allocations_cover_the_amount():
    settled = first_settled(
        invoice=np.array([0, 0, 0, 1, 1, 2, 3, 3]),
        date=np.array([o(D(2025, 1, 5)), o(D(2025, 1, 9)), o(D(2025, 2, 1)), 10, 10, 20, 30, 31]),
        # 0: 60 + 40 = 100 on 9 Jan, then a reversal of 40 on 1 Feb (still settled from 9 Jan); 1: two
        # allocations on one day; 2: a part only; 3: 0.1 + 0.2 of 0.3, exact in 1/10,000 units.
        amount=np.array([60.0, 40.0, -40.0, 70.0, 30.0, 50.0, 0.1, 0.2]),
        invoice_amount=np.array([100.0, 100.0, 80.0, 0.3, 10.0]),
    )

    assert settled.tolist() == [o(D(2025, 1, 9)), 10, NEVER, 31, NEVER]


def test_the_invoice_at_its_issue_date(facts):
    x = features(facts, 3, D(2025, 3, 1))

    assert x["terms_days"] == 30
    assert x["age_days"] == 0
    assert x["days_past_due"] == -30
    assert x["paid_share"] == 0
    assert x["log_amount"] == 2.0
    assert x["amount_vs_usual"] == 0.5  # 100 against the mean of A, B and C issued before: 200
    assert (x["issue_month"], x["issue_weekday"]) == (3, 5)  # a Saturday in March
    assert (x["due_weekday"], x["due_day"], x["due_to_month_end"]) == (0, 31, 0)
    assert (x["disputed_now"], x["disputed_before"]) == (0, 0)


def test_history_holds_what_settled_by_then_but_not_an_invoice_issued_and_paid_that_day(facts):
    x = features(facts, 3, D(2025, 3, 1))

    assert x["hist_count"] == 2  # A and B; not E
    assert x["hist_mean_days"] == 30
    assert x["hist_std_days"] == pytest.approx(math.sqrt(200), abs=1e-12)
    assert (x["hist_mean_late"], x["hist_late_rate"], x["hist_late30_rate"]) == (0, 0.5, 0)
    assert (x["hist_last_days"], x["hist_last_late"], x["hist_recent_days"]) == (40, 10, 30)
    assert (x["hist_days_undisputed"], x["hist_recent_undisputed"], x["hist_dispute_rate"]) == (30, 30, 0)
    assert math.isnan(x["hist_days_disputed"])
    assert math.isnan(x["hist_trend"]) and math.isnan(x["hist_slope"])  # too few to tell
    assert x["days_since_settlement"] == 10  # B on 19 February


def test_exposure_disputes_and_promises_of_the_other_invoices(facts):
    x = features(facts, 3, D(2025, 3, 1))

    assert x["open_count"] == 1  # C; E is paid, and D is the moment's own
    assert x["open_amount"] == pytest.approx(math.log10(301), abs=1e-12)
    assert (x["overdue_count"], x["overdue_share"], x["over30_count"]) == (0, 0, 0)
    assert x["credit_use"] == 0.4  # (C 300 + D 100) / 1,000
    assert (x["active_disputes"], x["disputes_365"]) == (1, 1)
    assert (x["broken_promises"], x["broken_promises_180"]) == (1, 1)  # the second is known only in April


def test_an_open_disputed_invoice_later_on(facts):
    x = features(facts, 2, D(2025, 4, 5))

    assert (x["age_days"], x["days_past_due"]) == (63, 33)
    assert (x["disputed_now"], x["disputed_before"]) == (0.5, 1)
    assert x["active_disputes"] == 0  # its own dispute is not another invoice's
    assert x["open_count"] == 1  # D, 5 days past due
    assert (x["overdue_count"], x["overdue_share"]) == (1, 1)
    assert x["broken_promises"] == 2
    assert x["hist_count"] == 3  # A, B and now E


def test_training_moments_and_labels_use_only_what_was_known_then():
    due = D(2025, 1, 31)
    facts = facts_from(
        [
            (1, D(2025, 1, 1), due, 10.0, D(2025, 1, 20)),  # 0: paid before its due date
            (
                1,
                D(2025, 1, 1),
                due,
                10.0,
                D(2025, 3, 20),
            ),  # 1: paid 48 days late, after the known-through day
            (1, D(2025, 1, 1), due, 10.0, None),  # 2: never paid
            (1, D(2025, 1, 1), due, 10.0, D(2025, 2, 3)),  # 3: paid 3 days late
        ]
    )

    m = training_moments(facts, known_through=o(D(2025, 3, 10)))

    # At issue, then at each landmark the invoice was still open at, up to 10 March.
    assert list(zip(m.rows.tolist(), (m.moments - o(due)).tolist(), strict=True)) == [
        (0, -30), (1, -30), (2, -30), (3, -30),
        (1, -7), (2, -7), (3, -7),
        (1, 0), (2, 0), (3, 0),
        (1, 15), (2, 15),
        (1, 30), (2, 30),
    ]  # fmt: skip
    known = ~np.isnan(m.settle_in)
    assert m.settle_in[known].tolist() == [19, 33, 10, 3]  # invoice 1's settlement is not known yet
    assert np.flatnonzero(known).tolist() == [0, 3, 6, 9]
    assert m.late.tolist() == [0] + [1] * 13  # open past the due date on 10 March: late for sure
    assert m.late30[:4].tolist() == [0, 1, 1, 0]  # 10 March is more than 30 days past the due date
    assert m.within7.tolist() == [0] * 9 + [1] + [0] * 4  # only invoice 3, at its due date, paid within 7


@hypothesis.settings(max_examples=25, deadline=None)
@hypothesis.given(seed=st.integers(0, 10_000), offset=st.integers(30, 480))
def test_scoring_on_the_open_customers_facts_alone_gives_the_same_features(seed, offset):
    """The scoring's fast path (services.score): only the customers with an open invoice, and the open
    invoices found without the sorted allocations, give bit-identical features and open amounts."""
    facts = synthetic_facts(seed=seed, customers=7, invoices=200)
    rng = np.random.default_rng(seed)
    facts.inv_amount = facts.inv_amount + rng.integers(0, 10_000, len(facts)) / 10_000  # cents and less
    facts.brk_customer = rng.choice(np.unique(facts.inv_customer), size=6).astype(np.int64)
    facts.brk_known = (facts.inv_issue.min() + rng.integers(0, 500, size=6)).astype(np.int64)
    facts.limit_customer = np.unique(facts.inv_customer)[::2]
    facts.limit_amount = rng.uniform(1_000, 50_000, len(facts.limit_customer))
    day = int(facts.inv_issue.min()) + offset
    builder = FeatureBuilder(facts)
    rows, amounts = facts.open_on(day, builder.alloc)
    fast_rows, fast_amounts = facts.open_on(day)
    np.testing.assert_array_equal(fast_rows, rows)
    assert fast_amounts.tobytes() == amounts.tobytes()
    general = builder.build(rows, np.full(len(rows), day))
    sub, kept = facts.of_customers(np.unique(facts.inv_customer[rows]))
    fast = FeatureBuilder(sub).build(np.searchsorted(kept, rows), np.full(len(rows), day))
    np.testing.assert_array_equal(sub.inv_id[np.searchsorted(kept, rows)], facts.inv_id[rows])
    assert fast.tobytes() == general.tobytes()  # to the last bit, NaN included
