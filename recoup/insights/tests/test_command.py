"""`recoup insights train | score | backtest | forecast`."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from recoup.disputes.defaults import install_reasons
from recoup.insights.models import Backtest, InvoicePrediction, PredictionModel
from recoup.insights.tests.support import D, build_ledger
from recoup.ledger.models import Invoice

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def book():
    with time_machine.travel(dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC), tick=False):
        install_reasons()
        yield build_ledger(today=D(2026, 6, 1), customers=3, per_customer=14)


def run(*args: str) -> str:
    out = StringIO()
    call_command("insights", *args, stdout=out)
    return out.getvalue()


def test_backtest_prints_the_published_keys_as_json():
    data = json.loads(run("backtest", "--cutoff", "2026-04-01", "--format", "json"))

    assert list(data)[:6] == [
        "mae_days",
        "baseline_due_date_mae",
        "baseline_customer_mean_mae",
        "auc_late",
        "f1_late",
        "calibration",
    ]
    assert data["cutoff"] == "2026-04-01"
    assert data["train_invoices"] == Invoice.objects.filter(issue_date__lt=D(2026, 4, 1)).count()
    assert "forecast" not in data
    assert Backtest.objects.count() == 1


def test_backtest_as_a_table_with_the_forecast():
    text = run("backtest", "--cutoff", "2026-04-01", "--forecast")

    before = Invoice.objects.filter(issue_date__lt=D(2026, 4, 1)).count()
    assert text.startswith(
        f"Backtest at 2026-04-01: trained on {before} invoices issued before it, tested on {42 - before} "
    )
    assert "\nMAE, days to settle" in text and "\nCalibration of P(late), by decile:" in text
    assert "\nCash forecast made on 2026-03-31 for the " in text
    assert Backtest.objects.count() == 2


def test_train_score_and_forecast():
    trained = run("train")
    scored = run("score", "--as-of", "2026-06-01")
    forecast = run("forecast", "--weeks", "2", "--format", "csv")

    assert trained.startswith("Model v1 trained on 42 invoices (")
    assert PredictionModel.objects.get().is_active
    expected = Invoice.objects.filter(open_amount__gt=0).count()
    assert scored.startswith(
        f"Scored {expected} open invoices of 3 customers as of 2026-06-01 with model v1 in "
    )
    assert InvoicePrediction.objects.count() == expected
    assert forecast.splitlines()[0] == "week,start,end,expected,low,high"
    assert [line.split(",")[:3] for line in forecast.splitlines()[1:3]] == [
        ["1", "2026-06-02", "2026-06-08"],
        ["2", "2026-06-09", "2026-06-15"],
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("backtest", "--cutoff", "2026-13-01"), r"'2026-13-01' is not a date \(expected YYYY-MM-DD\)"),
        (
            ("backtest", "--cutoff", "2027-01-01"),
            r"^The cutoff is in the future: nothing after it is known yet\.$",
        ),
        (("forecast",), r"^There are no predictions yet: run `recoup insights score` first\.$"),
        (("forecast", "--weeks", "60"), r"weeks must be from 1 to 52"),
        (("train", "--through", "2026-07-01"), r"^A model cannot be trained on facts from the future\.$"),
    ],
)
def test_refusals_are_clear_errors(args, message):
    with (
        time_machine.travel(dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC), tick=False),
        pytest.raises(CommandError, match=message),
    ):
        run(*args)

    assert not Backtest.objects.exists() and not PredictionModel.objects.exists()
