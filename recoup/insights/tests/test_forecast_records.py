"""Forecasts kept by each full scoring, and what the last one kept before a period expected for it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from recoup.disputes.defaults import install_reasons
from recoup.insights import selectors, services
from recoup.insights.models import ForecastRecord
from recoup.insights.tests.support import D, build_ledger, keep_forecast

pytestmark = pytest.mark.django_db
TODAY = D(2026, 6, 1)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC), tick=False):
        yield


def test_a_full_scoring_keeps_its_forecast_and_a_second_one_that_day_replaces_it():
    install_reasons()
    build_ledger(today=TODAY, customers=3, per_customer=12)
    services.model_train(actor=None)

    services.scores_refresh(actor=None)
    first = list(ForecastRecord.objects.values_list("week", "start", "expected"))
    services.scores_refresh(actor=None)

    live = selectors.cash_forecast()
    kept = list(ForecastRecord.objects.filter(made_on=TODAY).order_by("week"))
    assert [(r.week, r.start, r.expected, r.low, r.high) for r in kept] == [
        (w.week, w.start, w.expected, w.low, w.high) for w in live.weeks
    ]
    assert len(kept) == 13 and ForecastRecord.objects.count() == 13
    assert first == [(r.week, r.start, r.expected) for r in kept]
    assert kept[0].start == TODAY + dt.timedelta(days=1)
    assert selectors.latest_forecast().weeks == live.weeks


def test_a_period_gets_the_last_forecast_made_before_it_prorated_by_the_days_it_shares():
    keep_forecast(D(2026, 5, 3), ["700", "1400", "70", "7"])  # weeks from Mon 4 May, 11 May, 18 May, 25 May
    keep_forecast(D(2026, 5, 6), ["350", "35", "3.5", "0.35"])  # weeks from Thu 7 May, 14 May, 21 May, 28 May

    got = selectors.forecast_made_before(
        [
            (D(2026, 5, 4), D(2026, 5, 10)),  # only the 3 May forecast was made before: its week 1
            (D(2026, 5, 11), D(2026, 5, 17)),  # the 6 May one, made later
            (D(2026, 5, 1), D(2026, 5, 3)),  # nothing was made before 1 May
            (D(2026, 5, 25), D(2026, 6, 10)),  # beyond the reach of the 6 May forecast
        ]
    )

    assert got == [
        Decimal("700.00"),
        Decimal("170.00"),  # 11–13 May of its week 1 (3/7 of 350) + 14–17 May of week 2 (4/7 of 35)
        None,
        None,
    ]
