"""The backtests: what they count, and their baselines worked out independently of the feature code."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import numpy as np
import pytest

from recoup.insights import backtest
from recoup.insights.features import NEVER
from recoup.insights.tests.support import synthetic_facts


@pytest.fixture(scope="module")
def facts():
    return synthetic_facts(seed=11, customers=6, invoices=500)


@pytest.fixture(scope="module")
def cutoff(facts):
    return dt.date.fromordinal(int(facts.inv_issue.min()) + 380)


@pytest.fixture(scope="module")
def known_through(facts):
    return dt.date.fromordinal(int(facts.inv_issue.min()) + 500)


@pytest.fixture(scope="module")
def result(facts, cutoff, known_through, fast_trees):
    return backtest.payment_backtest(facts, cutoff=cutoff, known_through=known_through)


def test_the_report_has_the_published_keys(result):
    data = result.as_dict()

    assert list(data)[:6] == [
        "mae_days",
        "baseline_due_date_mae",
        "baseline_customer_mean_mae",
        "auc_late",
        "f1_late",
        "calibration",
    ]


def test_it_trains_before_the_cutoff_and_tests_from_it(facts, cutoff, known_through, result):
    cut, end = cutoff.toordinal(), known_through.toordinal()
    test = (facts.inv_issue >= cut) & (facts.inv_issue <= end)

    assert result.train_invoices == int((facts.inv_issue < cut).sum())
    assert result.test_invoices == int(test.sum()) > 50
    assert result.test_settled == int((test & (facts.inv_settled <= end)).sum())


def test_the_baselines_are_the_due_date_and_the_customers_earlier_average(
    facts, cutoff, known_through, result
):
    cut, end = cutoff.toordinal(), known_through.toordinal()
    due_errors, mean_errors = [], []
    for i in np.flatnonzero((facts.inv_issue >= cut) & (facts.inv_issue <= end) & (facts.inv_settled <= end)):
        days = facts.inv_settled[i] - facts.inv_issue[i]
        terms = facts.inv_due[i] - facts.inv_issue[i]
        due_errors.append(abs(days - terms))
        # The customer's average of its invoices settled by this one's issue date (terms when none).
        earlier = defaultdict(list)
        for j in range(len(facts)):
            same_day = facts.inv_settled[j] == facts.inv_issue[j] == facts.inv_issue[i]
            mine = facts.inv_customer[j] == facts.inv_customer[i] and j != i
            if mine and facts.inv_settled[j] <= facts.inv_issue[i] and not same_day:
                earlier["days"].append(facts.inv_settled[j] - facts.inv_issue[j])
        guess = np.mean(earlier["days"]) if earlier["days"] else terms
        mean_errors.append(abs(days - guess))

    assert result.baseline_due_date_mae == round(float(np.mean(due_errors)), 3)
    assert result.baseline_customer_mean_mae == round(float(np.mean(mean_errors)), 3)


def test_the_model_beats_both_baselines_on_a_ledger_with_structure(result):
    assert result.mae_days < result.baseline_customer_mean_mae < result.baseline_due_date_mae
    assert result.auc_late > 0.8


def test_the_calibration_table_covers_every_decided_invoice_in_deciles(facts, cutoff, known_through, result):
    cut, end = cutoff.toordinal(), known_through.toordinal()
    test = (facts.inv_issue >= cut) & (facts.inv_issue <= end)
    decided = test & ((facts.inv_settled <= end) | (end > facts.inv_due))

    table = result.calibration
    assert [row["decile"] for row in table] == list(range(1, 11))
    assert sum(row["count"] for row in table) == int(decided.sum())
    means = [row["mean_predicted"] for row in table]
    assert means == sorted(means)
    late = facts.inv_settled[decided] > facts.inv_due[decided]
    assert result.late_rate == round(float(late.mean()), 3)


def test_the_forecast_backtest_compares_with_the_payments_that_arrived(facts, cutoff, known_through):
    report = backtest.forecast_backtest(facts, cutoff=cutoff, known_through=known_through, weeks=13)
    as_of = cutoff.toordinal() - 1
    rows, amounts = facts.open_on(as_of)
    arrived = np.zeros(13)
    for i, day, amount in zip(facts.alloc_invoice, facts.alloc_date, facts.alloc_amount, strict=True):
        if i in set(rows.tolist()) and as_of < day <= as_of + 91:
            arrived[(day - as_of - 1) // 7] += amount

    assert report["open_invoices"] == len(rows)
    assert report["open_amount"] == round(float(amounts.sum()), 2)
    assert [w["actual"] for w in report["weeks"]] == [round(float(a), 2) for a in arrived]
    expected = sum(w["expected"] for w in report["weeks"]) + report["later_expected"]
    assert expected == pytest.approx(float(amounts.sum()), rel=1e-6)  # all cash: no credit notes here
    errors = sum(abs(w["actual"] - w["expected"]) for w in report["weeks"])
    assert report["wape"] == round(errors / sum(w["actual"] for w in report["weeks"]), 4)
    assert 0 <= report["band_coverage"] <= 1


def test_a_never_settled_invoice_counts_as_late_once_past_due(facts):
    assert (facts.inv_settled == NEVER).sum() > 0
