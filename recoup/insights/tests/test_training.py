"""Fitting and applying the models: deterministic, sensible, and honest about what is already decided."""

from __future__ import annotations

import datetime as dt
import io

import joblib
import numpy as np
import pytest

from recoup.insights import training
from recoup.insights.features import FEATURE_NAMES, FeatureBuilder
from recoup.insights.tests.support import D, facts_from, synthetic_facts


@pytest.fixture(scope="module")
def facts():
    return synthetic_facts(seed=7, customers=6, invoices=500)


def through(facts) -> dt.date:
    return dt.date.fromordinal(int(facts.inv_issue.min()) + 450)


def open_moments(facts, day: dt.date):
    rows, _ = facts.open_on(day.toordinal())
    return rows, FeatureBuilder(facts).build(rows, np.full(len(rows), day.toordinal()))


def test_the_same_facts_give_the_same_model(facts):
    day = through(facts)
    _, x = open_moments(facts, day)

    first = training.predict(training.fit(facts, known_through=day), x)
    second = training.predict(training.fit(facts, known_through=day), x)

    assert len(x) > 20
    for name in ("days", "days_p10", "days_p90", "p_late", "p_late30", "p_within7"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))


def test_the_interval_holds_the_point_and_decided_lateness_is_certain(facts):
    day = through(facts)
    _, x = open_moments(facts, day)
    p = training.predict(training.fit(facts, known_through=day), x)
    dpd = x[:, FEATURE_NAMES.index("days_past_due")]

    assert np.all((p.days_p10 <= p.days) & (p.days <= p.days_p90))
    assert np.all(p.days >= 0)
    assert (dpd >= 0).sum() > 0 and np.all(p.p_late[dpd >= 0] == 1.0)
    assert (dpd >= 30).sum() > 0 and np.all(p.p_late30[dpd >= 30] == 1.0)
    assert np.all(p.p_late30 <= p.p_late)


def test_a_late_payers_new_invoice_is_predicted_later_and_likelier_late_than_a_prompt_payers():
    # Customer 1 pays 5 days early, customer 2 45 days late, 60 invoices each.
    start = D(2025, 1, 1)
    rows = []
    for k in range(60):
        issue = start + dt.timedelta(days=5 * k)
        due = issue + dt.timedelta(days=30)
        rows.append((1, issue, due, 100.0 + k, due - dt.timedelta(days=5 + k % 3)))
        rows.append((2, issue, due, 100.0 + k, due + dt.timedelta(days=45 + k % 3)))
    last = start + dt.timedelta(days=5 * 60)
    rows += [
        (1, last, last + dt.timedelta(days=30), 110.0, None),
        (2, last, last + dt.timedelta(days=30), 110.0, None),
    ]
    facts = facts_from(rows)
    x = FeatureBuilder(facts).build(np.array([120, 121]), np.full(2, last.toordinal()))

    p = training.predict(training.fit(facts, known_through=last), x)

    assert 20 <= p.days[0] <= 30 and 70 <= p.days[1] <= 80
    assert p.p_late[0] < 0.2 < 0.8 < p.p_late[1]


def test_too_little_history_is_refused():
    facts = synthetic_facts(seed=2, customers=3, invoices=30)

    with pytest.raises(
        training.NotEnoughHistory,
        match=r"^\d+ invoices settled by 2024-06-01; the models need at least 100\.$",
    ):
        training.fit(facts, known_through=D(2024, 6, 1))


def test_a_stored_bundle_predicts_as_the_one_fitted(facts):
    day = through(facts)
    _, x = open_moments(facts, day)
    bundle = training.fit(facts, known_through=day)

    again = training.Bundle.loads(bundle.dumps())

    np.testing.assert_array_equal(training.predict(again, x).days, training.predict(bundle, x).days)
    assert again.trained_through == day and again.feature_names == FEATURE_NAMES


def test_a_bundle_of_other_features_or_not_a_bundle_is_refused(facts):
    bundle = training.fit(facts, known_through=through(facts), choose=False)
    bundle.feature_names = ("something", "else")

    with pytest.raises(ValueError, match=r"^the model was trained on other features; train it again$"):
        training.predict(bundle, np.zeros((1, len(FEATURE_NAMES))))
    with pytest.raises(TypeError, match=r"^not a Recoup insights model$"):
        buffer = io.BytesIO()
        joblib.dump({"estimators": {}}, buffer)
        training.Bundle.loads(buffer.getvalue())


def test_the_validation_split_inside_the_window_chooses_and_says_what(facts):
    bundle = training.fit(facts, known_through=through(facts))

    v = bundle.validation
    assert set(v) == {
        "split",
        "validation_invoices",
        "mae_tree0_squared_error",
        "mae_tree0_absolute_error",
        "logloss_tree0",
        "f1_at_threshold",
        "chosen",
    }
    assert v["split"] < through(facts).isoformat()
    chosen_mae = v[f"mae_tree0_{v['chosen']['loss']}"]
    assert chosen_mae == min(v["mae_tree0_squared_error"], v["mae_tree0_absolute_error"])
    assert 0.2 <= bundle.late_threshold == v["chosen"]["threshold"] <= 0.8
    assert bundle.config["regressor"]["loss"] == v["chosen"]["loss"]


def test_the_training_rows_can_be_capped(facts):
    bundle = training.fit(facts, known_through=through(facts), max_rows=120, choose=False)

    assert bundle.rows == 120
