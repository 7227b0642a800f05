"""The insights tests train small models: a few shallow trees, fitted in milliseconds, with a fixed seed."""

from __future__ import annotations

import pytest

from recoup.disputes.defaults import install_reasons
from recoup.insights import services, training
from recoup.insights.tests.support import D, build_ledger

FAST_TREES = ({"learning_rate": 0.3, "max_iter": 15, "max_leaf_nodes": 7, "min_samples_leaf": 3},)


@pytest.fixture(scope="module")
def fast_trees():
    """For module-scoped fixtures that train: they are set up before the autouse fixture below."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training, "TREE_CONFIGS", FAST_TREES)
        yield


@pytest.fixture(autouse=True)
def small_models(monkeypatch, settings):
    monkeypatch.setattr(training, "TREE_CONFIGS", FAST_TREES)
    settings.RECOUP_INSIGHTS_MIN_SETTLED = 20
    settings.BASE_CURRENCY = "USD"


@pytest.fixture
def scored():
    """Three customers' history up to 2026-06-01, a model trained on it and everything scored (the module's
    clock says the day)."""
    install_reasons()
    book = build_ledger(today=D(2026, 6, 1), customers=3, per_customer=12)
    services.model_train(actor=None)
    services.scores_refresh(actor=None)
    return book
