"""The insights tests train small models: a few shallow trees, fitted in milliseconds, with a fixed seed."""

from __future__ import annotations

import pytest

from recoup.insights import training

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
