"""The priority terms, the risk score, the weights and the baseline: plain numbers in, exact numbers out."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from recoup.insights import rules


@pytest.mark.parametrize(
    ("amount", "points"), [(0, 0.0), (9, 20.0), (999, 60.0), (99_999, 100.0), (10**9, 100.0), (-50, 0.0)]
)
def test_amount_at_risk_points_grow_with_the_log_of_the_amount(amount, points):
    assert rules.amount_at_risk_points(amount) == pytest.approx(points, abs=1e-9)


@pytest.mark.parametrize(
    ("days", "points"), [(-10, 0.0), (0, 0.0), (30, 25.0), (60, 50.0), (120, 100.0), (400, 100.0)]
)
def test_days_past_due_points(days, points):
    assert rules.days_past_due_points(days) == points


def test_broken_promises_customer_risk_about_to_pay_and_dispute_points():
    assert [rules.broken_promises_points(n) for n in (0, 1, 3, 9)] == [0.0, 25.0, 75.0, 100.0]
    assert [rules.customer_risk_points(r) for r in (0, 42, 130)] == [0.0, 42.0, 100.0]
    assert [rules.about_to_pay_points(p) for p in (0.0, 0.25, 1.0, float("nan"))] == [
        -0.0,
        -25.0,
        -100.0,
        -0.0,
    ]
    assert [rules.open_dispute_points(s) for s in (0.0, 0.5, 2.0)] == [-0.0, -50.0, -100.0]


def test_the_terms_work_on_arrays_as_on_numbers():
    days = np.array([-5, 45, 200])

    assert rules.days_past_due_points(days).tolist() == [0.0, 37.5, 100.0]
    assert rules.risk_score(np.array([0.004, 0.5, 1.2])).tolist() == [0, 50, 100]


@given(
    amount=st.floats(0, 1e12),
    days=st.integers(-1000, 10_000),
    promises=st.integers(0, 1000),
    p=st.floats(0, 1),
    share=st.floats(0, 1),
)
def test_every_term_stays_on_its_side_of_zero_and_within_100(amount, days, promises, p, share):
    assert 0 <= rules.amount_at_risk_points(amount) <= 100
    assert 0 <= rules.days_past_due_points(days) <= 100
    assert 0 <= rules.broken_promises_points(promises) <= 100
    assert -100 <= rules.about_to_pay_points(p) <= 0
    assert -100 <= rules.open_dispute_points(share) <= 0


@given(a=st.floats(0, 1e9), b=st.floats(0, 1e9))
def test_more_at_risk_never_scores_less(a, b):
    low, high = sorted((a, b))
    assert rules.amount_at_risk_points(low) <= rules.amount_at_risk_points(high)


def test_the_score_is_the_weighted_sum_of_the_points():
    points = dict(zip(rules.TERMS, (60.0, 25.0, 50.0, 40.0, -30.0, -100.0), strict=True))
    weights = rules.check_weights({"days_past_due": 2.0, "open_dispute": 0.5})

    assert rules.weighted_score(points, weights) == 60 + 50 + 50 + 40 - 30 - 50
    assert rules.weighted_score(points, rules.DEFAULT_WEIGHTS) == 45


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"days_past_due": -1}, "days_past_due: a weight is a number from 0 to 10"),
        ({"customer_risk": 10.5}, "customer_risk: a weight is a number from 0 to 10"),
        ({"about_to_pay": float("nan")}, "about_to_pay: a weight is a number from 0 to 10"),
        ({"luck": 1}, "unknown priority terms: luck"),
    ],
)
def test_weights_are_refused_outside_0_to_10(weights, message):
    with pytest.raises(ValueError, match=r"^" + message):
        rules.check_weights(weights)


def test_the_baseline_is_the_customers_average_with_enough_history_else_the_terms():
    b = rules.baseline(
        age=np.array([10.0, 10.0, 50.0, 0.0]),
        terms=np.array([30.0, 30.0, 30.0, 30.0]),
        history_count=np.array([4.0, 2.0, 4.0, 5.0]),
        history_mean_days=np.array([40.0, 40.0, 40.0, 25.0]),
        history_std_days=np.array([10.0, 10.0, 10.0, 0.0]),
        history_late_rate=np.array([0.5, 1.0, 0.5, 0.0]),
        history_late30_rate=np.array([0.25, 0.0, 0.25, 0.0]),
    )

    assert b.uses_history.tolist() == [True, False, True, True]
    # 40 days from issue, 10 gone: 30 more; two invoices of history are too few: the due date, 20 days on.
    assert b.days.tolist() == [30.0, 20.0, 1.0, 25.0]
    assert b.days_p10[0] == pytest.approx(40 - rules.Z_80 * 10 - 10)
    assert b.days_p90[0] == pytest.approx(40 + rules.Z_80 * 10 - 10)
    assert math.isnan(b.days_p10[1]) and math.isnan(b.days_p90[1])
    assert b.p_late[0] == (0.5 * 4 + 1) / 6  # smoothed: (late + 1) / (n + 2)
    assert math.isnan(b.p_late[1])
    assert (b.p_late[2], b.p_late30[2]) == (1.0, (0.25 * 4 + 1) / 6)  # 20 days past due: late for sure
    assert b.p_late[3] == 1 / 7  # never late in 5: not "never" either
