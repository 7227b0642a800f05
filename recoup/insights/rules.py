"""Priority-score terms, the customer risk score and the baseline predictions: pure arithmetic, no ORM.

Every date is passed in; nothing here calls today(). The functions take plain numbers or numpy arrays (the
scoring service applies them to every customer at once) and give the same answer for both.

The worklist score of a customer is the sum over the terms of weight × points (DESIGN.md, "Prioritisation
and prediction"). Each term's points are on a 0–100 scale, so that the default weights of 1 make them count
alike; the two terms that lower the rank (about to pay, an open dispute) have negative points:

| term | points |
|---|---|
| expected amount at risk (open × P(late), base currency) | 20 × log10(1 + amount), at most 100 |
| days past due (the oldest open invoice's) | days × 100 / 120, from 0 to 100 |
| broken promises (known broken in the last 180 days) | 25 each, at most 100 |
| customer risk (0–100) | the risk itself |
| about to pay (amount-weighted P(paid within 7 days)) | −100 × P |
| open dispute (share of the open amount in an active dispute) | −100 × share |
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

TERMS = (
    "amount_at_risk",
    "days_past_due",
    "broken_promises",
    "customer_risk",
    "about_to_pay",
    "open_dispute",
)
TERM_LABELS = {
    "amount_at_risk": "Expected amount at risk",
    "days_past_due": "Days past due",
    "broken_promises": "Broken promises",
    "customer_risk": "Customer risk",
    "about_to_pay": "About to pay",
    "open_dispute": "Open dispute",
}
DEFAULT_WEIGHTS = dict.fromkeys(TERMS, 1.0)
MAX_WEIGHT = 10.0
DAYS_PAST_DUE_FULL = 120  # days past due worth the full 100 points
POINTS_PER_BROKEN_PROMISE = 25.0
BASELINE_MIN_HISTORY = 3  # settled invoices a customer needs before its own average is the baseline
Z_80 = 1.2815515655446004  # the normal 90 % quantile: mean ± Z_80 sd holds 80 %


def _out(value: Any) -> Any:
    """numpy scalars back to float, arrays stay arrays."""
    return float(value) if np.ndim(value) == 0 else value


def amount_at_risk_points(amount: Any) -> Any:
    return _out(np.minimum(100.0, 20.0 * np.log10(1.0 + np.maximum(np.asarray(amount, dtype=float), 0.0))))


def days_past_due_points(days: Any) -> Any:
    return _out(np.clip(np.asarray(days, dtype=float), 0.0, DAYS_PAST_DUE_FULL) * 100.0 / DAYS_PAST_DUE_FULL)


def broken_promises_points(count: Any) -> Any:
    return _out(
        np.minimum(100.0, POINTS_PER_BROKEN_PROMISE * np.maximum(np.asarray(count, dtype=float), 0.0))
    )


def customer_risk_points(risk: Any) -> Any:
    return _out(np.clip(np.asarray(risk, dtype=float), 0.0, 100.0))


def about_to_pay_points(p_paid_7_days: Any) -> Any:
    p = np.nan_to_num(np.asarray(p_paid_7_days, dtype=float), nan=0.0)
    return _out(-100.0 * np.clip(p, 0.0, 1.0))


def open_dispute_points(disputed_share: Any) -> Any:
    share = np.nan_to_num(np.asarray(disputed_share, dtype=float), nan=0.0)
    return _out(-100.0 * np.clip(share, 0.0, 1.0))


def risk_score(p_late_30: Any) -> Any:
    """The customer risk, 0–100: the amount-weighted chance, in percent, that its open invoices settle more
    than 30 days late."""
    p = np.nan_to_num(np.asarray(p_late_30, dtype=float), nan=0.0)
    score = np.rint(np.clip(p, 0.0, 1.0) * 100.0).astype(int)
    return int(score) if np.ndim(score) == 0 else score


def check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """The weights of every term, each from 0 to MAX_WEIGHT. Raises ValueError naming the bad one."""
    unknown = set(weights) - set(TERMS)
    if unknown:
        raise ValueError(f"unknown priority terms: {', '.join(sorted(unknown))}")
    out = dict(DEFAULT_WEIGHTS)
    for term, value in weights.items():
        number = float(value)
        if not np.isfinite(number) or not 0.0 <= number <= MAX_WEIGHT:
            raise ValueError(f"{term}: a weight is a number from 0 to {MAX_WEIGHT:g}, not {value!r}")
        out[term] = number
    return out


def weighted_score(points: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """Σ weight × points over the terms: the worklist score, as the SQL expression computes it."""
    return float(sum(weights[term] * points[term] for term in TERMS))


def days_past_due(as_of: dt.date, due_date: dt.date) -> int:
    return (as_of - due_date).days


@dataclass(frozen=True)
class Baseline:
    """Baseline predictions for arrays of open invoices: days from the as-of date (point, p10, p90; NaN when
    unknown) and probabilities (NaN when unknown), and which baseline answered (`uses_history`)."""

    uses_history: np.ndarray
    days: np.ndarray
    days_p10: np.ndarray
    days_p90: np.ndarray
    p_late: np.ndarray
    p_late30: np.ndarray


def baseline(
    *,
    age: Any,
    terms: Any,
    history_count: Any,
    history_mean_days: Any,
    history_std_days: Any,
    history_late_rate: Any,
    history_late30_rate: Any,
) -> Baseline:
    """The transparent fallback when there is too little history to train on.

    - With BASELINE_MIN_HISTORY settled invoices or more, the customer's average: settled at issue + its
      mean days to settle, with mean ± 1.28 × its spread as the 10–90 % interval, and its own (smoothed)
      late and 30-days-late rates as the probabilities.
    - Otherwise the terms: settled on the due date, with no interval and no probabilities.

    `age` is days since issue on the as-of date; the answer is in days from the as-of date, never before it
    (an invoice still open is settled tomorrow at the earliest). Lateness decided by the as-of date (open past
    the due date) is certain.
    """
    age = np.asarray(age, dtype=float)
    terms_ = np.asarray(terms, dtype=float)
    n = np.nan_to_num(np.asarray(history_count, dtype=float), nan=0.0)
    mean = np.asarray(history_mean_days, dtype=float)
    std = np.nan_to_num(np.asarray(history_std_days, dtype=float), nan=0.0)
    uses = (n >= BASELINE_MIN_HISTORY) & np.isfinite(mean)
    from_issue = np.where(uses, mean, terms_)
    days = np.maximum(from_issue - age, 1.0)
    p10 = np.where(uses, np.maximum(mean - Z_80 * std - age, 1.0), np.nan)
    p90 = np.where(uses, np.maximum(mean + Z_80 * std - age, 1.0), np.nan)

    def smoothed(rate: Any) -> np.ndarray:  # Laplace: (late + 1) / (n + 2), so 0 of 3 is not "never late"
        return (np.nan_to_num(np.asarray(rate, dtype=float), nan=0.0) * n + 1.0) / (n + 2.0)

    p_late = np.where(uses, smoothed(history_late_rate), np.nan)
    p_late30 = np.where(uses, smoothed(history_late30_rate), np.nan)
    past_due = age >= terms_
    p_late = np.where(past_due, 1.0, p_late)
    p_late30 = np.where(age >= terms_ + 30, 1.0, p_late30)
    return Baseline(uses, days, np.minimum(p10, days), np.maximum(p90, days), p_late, p_late30)
