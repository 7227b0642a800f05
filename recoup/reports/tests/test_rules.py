"""The KPI formulas with plain values: exact results, the design's countback anchor, and the zero cases."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recoup.reports.rules import (
    Span,
    average_days_delinquent,
    best_possible_dso,
    collection_effectiveness,
    countback_dso,
    month_spans,
    percentage,
    period_days,
    rate_on,
    round_figure,
    series_spans,
    standard_dso,
)

D = dt.date
K = Decimal(1000)


# Countback DSO ----------------------------------------------------------------------------------------------


def test_countback_anchor_of_the_design_gives_73_71_days():
    # AR 212k; 100k → 30 days (112k left), 80k → 30 days (32k left), then 32k ÷ 70k × 30 = 13.714285…
    days = countback_dso(ar=212 * K, months=[(100 * K, 30), (80 * K, 30), (70 * K, 30)])
    assert days == Decimal(60) + Decimal(32) / Decimal(70) * 30
    assert days is not None and days.quantize(Decimal("0.0000001")) == Decimal("73.7142857")
    assert round_figure(days) == 73.71


def test_countback_with_ar_smaller_than_the_newest_month_is_a_fraction_of_it():
    # 45k of a 31-day month's 100k: 0.45 × 31 = 13.95 days; the older months are never reached.
    assert countback_dso(ar=45 * K, months=[(100 * K, 31), (1 * K, 30)]) == Decimal("13.95")


def test_countback_with_ar_equal_to_the_newest_months_sales_counts_that_month_only():
    assert countback_dso(ar=100 * K, months=[(100 * K, 28), (100 * K, 31)]) == Decimal(28)


def test_countback_with_ar_larger_than_every_month_extrapolates_at_the_oldest_months_rate():
    # 100k → 30 days, 80k → 31 days, 20k left against the oldest month's 80k over 31 days: 7.75 days.
    assert countback_dso(ar=200 * K, months=[(100 * K, 30), (80 * K, 31)]) == Decimal("68.75")


def test_countback_counts_a_month_without_sales_in_full():
    # 10k → 31 days, nothing in a 28-day month → 28 days, then 5k ÷ 20k × 31 = 7.75.
    assert countback_dso(ar=15 * K, months=[(10 * K, 31), (Decimal(0), 28), (20 * K, 31)]) == Decimal("66.75")


def test_countback_past_the_months_uses_the_oldest_month_that_had_sales():
    # 10k → 31 days, 0 → 30 days; 5k left at the 31-day month's rate: 5/10 × 31 = 15.5 days.
    assert countback_dso(ar=15 * K, months=[(10 * K, 31), (Decimal(0), 30)]) == Decimal("76.5")


def test_countback_without_ar_is_zero_days_and_without_sales_none():
    assert countback_dso(ar=Decimal(0), months=[(Decimal(0), 31), (10 * K, 30)]) == Decimal(0)
    assert countback_dso(ar=5 * K, months=[(Decimal(0), 31), (Decimal(0), 30)]) is None
    assert countback_dso(ar=Decimal(0), months=[]) is None


def test_month_spans_run_newest_first_and_the_newest_ends_on_its_day():
    assert month_spans(newest=D(2013, 3, 14), oldest=D(2012, 12, 31)) == [
        (D(2013, 3, 1), D(2013, 3, 14)),
        (D(2013, 2, 1), D(2013, 2, 28)),
        (D(2013, 1, 1), D(2013, 1, 31)),
        (D(2012, 12, 1), D(2012, 12, 31)),
    ]
    assert month_spans(newest=D(2012, 2, 29), oldest=D(2012, 2, 29)) == [(D(2012, 2, 1), D(2012, 2, 29))]


# DSO, BPDSO, ADD --------------------------------------------------------------------------------------------


def test_standard_dso_and_bpdso_over_the_period_days():
    # 3000 ÷ 2515 × 90 = 107.3558…; 375 ÷ 2515 × 90 = 13.4194…
    dso = standard_dso(ar=Decimal("3000.00"), credit_sales=Decimal("2515.00"), days=90)
    bpdso = best_possible_dso(current_ar=Decimal("375.00"), credit_sales=Decimal("2515.00"), days=90)
    assert dso == Decimal(270000) / Decimal(2515)
    assert bpdso == Decimal(33750) / Decimal(2515)
    assert (round_figure(dso), round_figure(bpdso)) == (107.36, 13.42)
    add = average_days_delinquent(dso=dso, bpdso=bpdso)
    assert add is not None and round_figure(add) == 93.94  # 2625 ÷ 2515 × 90 = 93.9363…


def test_add_is_computed_from_the_exact_figures():
    # DSO 10.005 and BPDSO 5.004 round to 10.01 and 5.00, but ADD is 5.001 → 5.00, not 5.01.
    assert round_figure(average_days_delinquent(dso=Decimal("10.005"), bpdso=Decimal("5.004"))) == 5.0


def test_without_credit_sales_dso_bpdso_and_add_are_none():
    assert standard_dso(ar=Decimal(500), credit_sales=Decimal(0), days=30) is None
    assert best_possible_dso(current_ar=Decimal(0), credit_sales=Decimal(0), days=30) is None
    assert average_days_delinquent(dso=None, bpdso=Decimal(3)) is None
    assert average_days_delinquent(dso=Decimal(3), bpdso=None) is None


def test_no_ar_with_sales_is_zero_days():
    assert standard_dso(ar=Decimal(0), credit_sales=Decimal(10), days=31) == Decimal(0)


# CEI and shares ---------------------------------------------------------------------------------------------


def test_cei_is_not_divided_by_a_number_of_months():
    # (1950 + 2515 − 3000) ÷ (1950 + 2515 − 375) × 100 = 1465 ÷ 4090 × 100 = 35.8190…
    cei = collection_effectiveness(
        begin_ar=Decimal(1950), credit_sales=Decimal(2515), end_ar=Decimal(3000), end_current_ar=Decimal(375)
    )
    assert cei == Decimal(146500) / Decimal(4090)
    assert round_figure(cei) == 35.82


def test_cei_of_a_period_that_collected_everything_collectable_is_100():
    cei = collection_effectiveness(
        begin_ar=Decimal(100), credit_sales=Decimal(50), end_ar=Decimal(20), end_current_ar=Decimal(20)
    )
    assert cei == Decimal(100)


def test_cei_with_nothing_collectable_is_none():
    assert (
        collection_effectiveness(
            begin_ar=Decimal(0), credit_sales=Decimal(40), end_ar=Decimal(40), end_current_ar=Decimal(40)
        )
        is None
    )


def test_percentages_and_their_zero_case():
    assert percentage(Decimal(375), Decimal(3000)) == Decimal("12.5")
    assert round_figure(percentage(Decimal(1), Decimal(3))) == 33.33
    assert round_figure(percentage(Decimal(2), Decimal(3))) == 66.67
    assert percentage(Decimal(0), Decimal(0)) is None


def test_round_figure_rounds_half_up():
    assert round_figure(Decimal("0.125")) == 0.13
    assert round_figure(Decimal("-0.125")) == -0.13
    assert round_figure(Decimal("2.675")) == 2.68  # a float would round this one down
    assert round_figure(None) is None


# Periods, series and rates ----------------------------------------------------------------------------------


def test_period_days_include_both_ends():
    assert period_days(D(2013, 1, 1), D(2013, 3, 31)) == 90
    assert period_days(D(2012, 1, 1), D(2012, 3, 31)) == 91
    assert period_days(D(2013, 5, 5), D(2013, 5, 5)) == 1


def test_series_by_week_are_iso_weeks_clipped_to_the_period():
    assert series_spans(start=D(2012, 12, 29), end=D(2013, 1, 9), by="week") == [
        Span("2012-W52", D(2012, 12, 29), D(2012, 12, 30)),
        Span("2013-W01", D(2012, 12, 31), D(2013, 1, 6)),
        Span("2013-W02", D(2013, 1, 7), D(2013, 1, 9)),
    ]


def test_series_by_month_and_by_day():
    assert series_spans(start=D(2012, 1, 15), end=D(2012, 3, 1), by="month") == [
        Span("2012-01", D(2012, 1, 15), D(2012, 1, 31)),
        Span("2012-02", D(2012, 2, 1), D(2012, 2, 29)),
        Span("2012-03", D(2012, 3, 1), D(2012, 3, 1)),
    ]
    assert series_spans(start=D(2013, 2, 27), end=D(2013, 3, 1), by="day") == [
        Span("2013-02-27", D(2013, 2, 27), D(2013, 2, 27)),
        Span("2013-02-28", D(2013, 2, 28), D(2013, 2, 28)),
        Span("2013-03-01", D(2013, 3, 1), D(2013, 3, 1)),
    ]


def test_series_reach_the_last_representable_day_without_overflow():
    assert series_spans(start=D(9999, 12, 30), end=D(9999, 12, 31), by="week") == [
        Span("9999-W52", D(9999, 12, 30), D(9999, 12, 31))
    ]
    assert series_spans(start=D(9999, 12, 1), end=D(9999, 12, 31), by="month")[-1].end == D(9999, 12, 31)


def test_series_refuse_an_unknown_grouping():
    with pytest.raises(ValueError, match="by must be one of day, week, month"):
        series_spans(start=D(2013, 1, 1), end=D(2013, 1, 2), by="quarter")


@given(
    start=st.dates(D(2000, 1, 1), D(2030, 1, 1)),
    length=st.integers(0, 800),
    by=st.sampled_from(["day", "week", "month"]),
)
def test_series_cover_the_period_once_without_gaps(start, length, by):
    end = start + dt.timedelta(days=length)
    spans = series_spans(start=start, end=end, by=by)
    assert spans[0].start == start and spans[-1].end == end
    for earlier, later in itertools.pairwise(spans):
        assert later.start == earlier.end + dt.timedelta(days=1)
    assert len({span.label for span in spans}) == len(spans)


def test_rate_on_takes_the_latest_rate_dated_on_or_before_the_day():
    history = [(D(2026, 1, 1), Decimal("1.10")), (D(2026, 2, 1), Decimal("1.20"))]
    assert rate_on(history, D(2025, 12, 31)) is None
    assert rate_on(history, D(2026, 1, 1)) == Decimal("1.10")
    assert rate_on(history, D(2026, 1, 31)) == Decimal("1.10")
    assert rate_on(history, D(2026, 2, 1)) == Decimal("1.20")
    assert rate_on(history, D(2030, 1, 1)) == Decimal("1.20")
