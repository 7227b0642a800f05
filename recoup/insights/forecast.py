"""The cash forecast's arithmetic: pure numpy, no ORM, every date passed in.

Each open invoice's predicted days to settlement (10 %, point, 90 %) define a piecewise-linear distribution:
10 % of the chance before the 10 % day (spread back from it over the distance to the point), 40 % between it
and the point, 40 % from the point to the 90 % day, 10 % after it (spread over the distance from the point).
The chance it settles in week k is F(7k) − F(7(k − 1)), counted in days after the as-of date, and the
expected collections of week k are Σ open amount × that chance × the share of settlements that arrive as cash.

The band is expected ± 1.28 standard deviations (80 %), treating each invoice as settling in a week or not
independently of the others: variance Σ amount² × p × (1 − p). Customers do not pay independently (one
pay run settles several invoices), so the band is narrower than the truth; the forecast backtest reports how
often the actual weeks fell inside it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from recoup.insights.rules import Z_80

WEEKS = 13
_MASSES = (0.1, 0.4, 0.4, 0.1)


def settle_cdf(
    t: NDArray[np.float64], days: NDArray[np.float64], p10: NDArray[np.float64], p90: NDArray[np.float64]
) -> NDArray[np.float64]:
    """P(settled within t days) for each invoice (rows) at each t (columns)."""
    days = np.asarray(days, dtype=float)[:, None]
    low = np.minimum(np.asarray(p10, dtype=float)[:, None], days)
    high = np.maximum(np.asarray(p90, dtype=float)[:, None], days)
    knots = (np.maximum(low - (days - low), 0.0), low, days, high, high + (high - days))
    t = np.asarray(t, dtype=float)[None, :]
    total = np.zeros((days.shape[0], t.shape[1]))
    for mass, a, b in zip(_MASSES, knots[:-1], knots[1:], strict=True):
        width = b - a
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            part = np.where(width > 0, np.clip((t - a) / np.where(width > 0, width, 1.0), 0.0, 1.0), t >= a)
        total += mass * part
    return np.clip(total, 0.0, 1.0)


@dataclass(frozen=True)
class Week:
    start: dt.date
    end: dt.date
    expected: float
    low: float
    high: float


def weekly(
    *,
    as_of: dt.date,
    amounts: NDArray[np.float64],
    days: NDArray[np.float64],
    p10: NDArray[np.float64],
    p90: NDArray[np.float64],
    cash_share: float = 1.0,
    weeks: int = WEEKS,
) -> tuple[list[Week], float]:
    """The expected collections of each of the `weeks` weeks after `as_of` (week 1 is the 7 days from the day
    after it) with their 80 % band, and the expected amount left for after them."""
    bounds = np.arange(weeks + 1, dtype=float) * 7.0
    amounts = np.asarray(amounts, dtype=float)
    if len(amounts):
        cdf = settle_cdf(bounds, days, p10, p90)
        chance = np.diff(cdf, axis=1)
        expected = amounts @ chance * cash_share
        variance = (amounts * amounts) @ (chance * (1.0 - chance)) * cash_share * cash_share
        later = float(amounts @ (1.0 - cdf[:, -1]) * cash_share)
    else:
        expected = variance = np.zeros(weeks)
        later = 0.0
    spread = Z_80 * np.sqrt(variance)
    out = []
    for k in range(weeks):
        start = as_of + dt.timedelta(days=7 * k + 1)
        out.append(
            Week(
                start=start,
                end=start + dt.timedelta(days=6),
                expected=float(expected[k]),
                low=float(max(expected[k] - spread[k], 0.0)),
                high=float(expected[k] + spread[k]),
            )
        )
    return out, later


def week_index(as_of: dt.date, day: dt.date) -> int:
    """Which forecast week (0-based) `day` falls in; -1 on or before the as-of date."""
    delta = (day - as_of).days
    return -1 if delta <= 0 else (delta - 1) // 7
