"""The cash forecast's distribution and weekly sums."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from recoup.insights import forecast
from recoup.insights.rules import Z_80


def test_the_distribution_passes_through_its_quantiles():
    t = np.array([0.0, 5.0, 10.0, 20.0, 40.0, 60.0, 100.0])

    cdf = forecast.settle_cdf(t, days=np.array([20.0]), p10=np.array([10.0]), p90=np.array([40.0]))[0]

    # Knots: (0, 0), (10, 0.1), (20, 0.5), (40, 0.9), (60, 1.0).
    assert cdf.tolist() == pytest.approx([0.0, 0.05, 0.1, 0.5, 0.9, 1.0, 1.0])


def test_a_zero_width_interval_is_a_step_on_the_day():
    cdf = forecast.settle_cdf(
        np.array([6.0, 7.0, 8.0]), days=np.array([7.0]), p10=np.array([7.0]), p90=np.array([7.0])
    )

    assert cdf[0].tolist() == [0.0, 1.0, 1.0]


@given(
    days=st.floats(1, 400),
    low=st.floats(0, 1),
    high=st.floats(1, 3),
    t=st.lists(st.floats(0, 2000), min_size=2, max_size=8),
)
def test_the_distribution_never_decreases_and_stays_in_0_to_1(days, low, high, t):
    ts = np.sort(np.array(t))
    cdf = forecast.settle_cdf(ts, np.array([days]), np.array([days * low]), np.array([days * high]))[0]

    assert np.all(np.diff(cdf) >= -1e-12)
    assert np.all((cdf >= 0) & (cdf <= 1))


def test_weekly_expectations_add_up_to_the_open_amount_and_carry_their_band():
    as_of = dt.date(2026, 3, 1)
    weeks, later = forecast.weekly(
        as_of=as_of,
        amounts=np.array([100.0, 300.0]),
        days=np.array([3.0, 10.0]),
        p10=np.array([3.0, 10.0]),
        p90=np.array([3.0, 10.0]),
        cash_share=0.5,
        weeks=3,
    )

    assert [(w.start, w.end) for w in weeks] == [
        (dt.date(2026, 3, 2), dt.date(2026, 3, 8)),
        (dt.date(2026, 3, 9), dt.date(2026, 3, 15)),
        (dt.date(2026, 3, 16), dt.date(2026, 3, 22)),
    ]
    # Certain dates: 100 in week 1, 300 in week 2, half of each in cash, no spread at all.
    assert [(w.expected, w.low, w.high) for w in weeks] == [
        (50.0, 50.0, 50.0),
        (150.0, 150.0, 150.0),
        (0, 0, 0),
    ]
    assert later == 0.0


def test_the_band_is_1_28_standard_deviations_either_side():
    weeks, _ = forecast.weekly(
        as_of=dt.date(2026, 3, 1),
        amounts=np.array([100.0]),
        days=np.array([7.0]),
        p10=np.array([1.0]),
        p90=np.array([13.0]),
        weeks=1,
    )

    # F(7) = 0.5: expected 50, standard deviation 100 × sqrt(0.25) = 50.
    assert weeks[0].expected == pytest.approx(50.0)
    assert weeks[0].high == pytest.approx(50.0 + Z_80 * 50.0)
    assert weeks[0].low == 0.0  # never below nothing


def test_week_index():
    as_of = dt.date(2026, 3, 1)
    assert [forecast.week_index(as_of, as_of + dt.timedelta(days=d)) for d in (0, 1, 7, 8, 14, 15)] == [
        -1,
        0,
        0,
        1,
        1,
        2,
    ]
