"""KPI arithmetic with no ORM and no clock: every amount and date comes in as an argument (docs/reports.md).

The figures follow DESIGN.md ("KPIs"). A figure whose denominator is zero (no credit sales, no AR) is None:
never an exception, never a made-up number. Day figures and percentages stay exact Decimals here; only
`round_figure` rounds them, for display.
"""

from __future__ import annotations

import calendar
import datetime as dt
from bisect import bisect_right
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

ZERO = Decimal(0)
HUNDRED = Decimal(100)
CENT = Decimal("0.01")
# Days past due beyond which AR counts in "% over 90 days".
OVER_DAYS = 90
# The earliest first day of a period: the reports age as of the day before it, and the aging buckets reach
# months further back still.
EARLIEST_DATE = dt.date(1900, 1, 1)
SERIES = ("day", "week", "month")


def period_days(start: dt.date, end: dt.date) -> int:
    """Days in [start, end], both included: a quarter of 2013 has 90, 91 or 92."""
    return (end - start).days + 1


def standard_dso(*, ar: Decimal, credit_sales: Decimal, days: int) -> Decimal | None:
    """DSO = AR ÷ credit sales × days; None without credit sales."""
    if credit_sales == 0:
        return None
    return ar / credit_sales * days


def best_possible_dso(*, current_ar: Decimal, credit_sales: Decimal, days: int) -> Decimal | None:
    """BPDSO = current AR ÷ credit sales × days: the DSO if every customer paid on the due date."""
    return standard_dso(ar=current_ar, credit_sales=credit_sales, days=days)


def average_days_delinquent(*, dso: Decimal | None, bpdso: Decimal | None) -> Decimal | None:
    """ADD = DSO − BPDSO: the days lost to late payment. From the exact figures, so it can differ by 0.01
    from the difference of the rounded ones."""
    if dso is None or bpdso is None:
        return None
    return dso - bpdso


def collection_effectiveness(
    *, begin_ar: Decimal, credit_sales: Decimal, end_ar: Decimal, end_current_ar: Decimal
) -> Decimal | None:
    """CEI = (begin AR + credit sales − end AR) ÷ (begin AR + credit sales − end current AR) × 100.

    What was collected out of what could have been: the period's figures as they are, never divided by a
    number of months. None when nothing was collectable (the denominator is zero).
    """
    collectable = begin_ar + credit_sales - end_current_ar
    if collectable == 0:
        return None
    return (begin_ar + credit_sales - end_ar) / collectable * HUNDRED


def percentage(part: Decimal, whole: Decimal) -> Decimal | None:
    """part ÷ whole × 100; None when the whole is zero (no AR: no share of it)."""
    if whole == 0:
        return None
    return part / whole * HUNDRED


def countback_dso(*, ar: Decimal, months: Sequence[tuple[Decimal, int]]) -> Decimal | None:
    """Countback DSO: the days of the latest sales that add up to `ar`.

    `months` are (credit sales, days) of calendar months, newest first. While the AR left exceeds a month's
    sales, the month's sales come off it and its days count in full; the month that covers the rest counts
    the fraction AR left ÷ its sales × its days. AR 212k against 100k, 80k and 70k in 30-day months:
    30 + 30 + 32/70 × 30 = 73.71 days.

    - AR larger than every month given: each month counts in full and the oldest one given takes the rest at
      its own daily rate (AR left ÷ its sales × its days, a fraction above 1 of it).
    - No AR (zero or less): 0 days, when some month had sales.
    - No sales in any month given: None (nothing to count AR against).
    """
    if not any(sales > 0 for sales, _ in months):
        return None
    if ar <= 0:
        return ZERO
    left = ar
    counted = ZERO
    for sales, days in months:
        if sales > 0 and left <= sales:
            return counted + left / sales * days
        left -= sales
        counted += days
    # Every month is used up and AR is left: the oldest month with sales takes the rest at its rate.
    sales, days = next((s, d) for s, d in reversed(months) if s > 0)
    return counted + left / sales * days


def month_spans(*, newest: dt.date, oldest: dt.date) -> list[tuple[dt.date, dt.date]]:
    """The calendar months from the one holding `newest` back to the one holding `oldest`, newest first, as
    (first day, last day); the newest one ends on `newest` itself (a partial month counts its days up to
    it)."""
    spans: list[tuple[dt.date, dt.date]] = []
    last = newest
    floor = oldest.replace(day=1)
    while True:
        first = last.replace(day=1)
        spans.append((first, last))
        if first <= floor:
            return spans
        last = first - dt.timedelta(days=1)


class Span(NamedTuple):
    label: str  # 2013-01-31 (day), 2013-W05 (ISO week), 2013-01 (month)
    start: dt.date
    end: dt.date


def series_spans(*, start: dt.date, end: dt.date, by: str) -> list[Span]:
    """Every day, ISO week (Monday to Sunday) or calendar month that meets [start, end], oldest first,
    clipped to the period: the first and last weeks or months may be partial."""
    if by not in SERIES:
        raise ValueError(f"by must be one of {', '.join(SERIES)}, not {by!r}")
    spans: list[Span] = []
    day = start
    while day <= end:
        if by == "day":
            length, label = 0, day.isoformat()
        elif by == "week":
            year, week, weekday = day.isocalendar()
            length, label = 7 - weekday, f"{year}-W{week:02d}"
        else:
            length, label = calendar.monthrange(day.year, day.month)[1] - day.day, f"{day:%Y-%m}"
        last = day + dt.timedelta(days=min(length, (end - day).days))
        spans.append(Span(label, day, last))
        if last == end:
            break
        day = last + dt.timedelta(days=1)
    return spans


def rate_on(history: Sequence[tuple[dt.date, Decimal]], day: dt.date) -> Decimal | None:
    """The rate of the latest (date, rate) dated on or before `day`; `history` is sorted by date."""
    index = bisect_right(history, day, key=lambda entry: entry[0])
    return history[index - 1][1] if index else None


def round_figure(value: Decimal | None) -> float | None:
    """A day figure or a percentage for display: rounded half-up to 2 decimals, as a JSON number."""
    if value is None:
        return None
    return float(value.quantize(CENT, rounding=ROUND_HALF_UP))
