"""The models: scikit-learn histogram gradient boosting fitted on the installation's own closed history.

No ORM here: `fit` takes `Facts` (features.py) and the last day whose facts it may use, and returns a `Bundle`
of five estimators that `predict` applies to any moments:

- a regressor of the days from the moment to the settlement (its point prediction);
- two quantile regressors, at 10 % and 90 %, for the interval;
- two classifiers: settled after the due date (late), and more than 30 days after it.

P(settled within 7 days) is read from the distribution the point and the interval define (forecast.py), the
one the cash forecast spreads, so that "about to pay" and the forecast agree.

Hyper-parameters are chosen by a time split *inside* the training window: fit on the invoices issued before
its last fifth, with the labels known then, and validate on the invoices issued in that last fifth, each at
its issue date, exactly as the backtest predicts. The late threshold is the one with the best F1 there. The
chosen configuration is then refitted on the whole window. Nothing after the window is ever looked at.
"""

from __future__ import annotations

import datetime as dt
import io
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import joblib
import numpy as np
import sklearn
from numpy.typing import NDArray
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import f1_score, log_loss, mean_absolute_error
from threadpoolctl import threadpool_limits

from recoup.insights import forecast
from recoup.insights.features import (
    FEATURE_NAMES,
    Facts,
    FeatureBuilder,
    Floats,
    Ints,
    Moments,
    from_ordinal,
    training_moments,
)

ALGORITHM = "sklearn.HistGradientBoosting"
RANDOM_STATE = 0
QUANTILES = (0.1, 0.9)
# The candidates the validation split chooses from: scikit-learn's defaults, and a slower, more regularised
# one; the regressor also tries the absolute loss, which aims at the median (what MAE rewards).
TREE_CONFIGS: tuple[dict[str, Any], ...] = (
    {"learning_rate": 0.1, "max_iter": 100, "max_leaf_nodes": 31, "min_samples_leaf": 20},
    {
        "learning_rate": 0.05,
        "max_iter": 250,
        "max_leaf_nodes": 15,
        "min_samples_leaf": 40,
        "l2_regularization": 1.0,
    },
)
REGRESSION_LOSSES = ("squared_error", "absolute_error")
VALIDATION_SHARE = 0.2
# With a row cap (large ledgers), the candidates are compared on fewer rows than the final fit uses.
CHOOSE_MAX_ROWS = 60_000
VALIDATION_MAX_ROWS = 50_000
# Past this many settled invoices, only candidates of at most LARGE_MAX_TREES trees: quick to apply.
LARGE_LEDGER = 100_000
LARGE_MAX_TREES = 100
MIN_VALIDATION = 50  # fewer validation invoices than this: no choice is made, the first candidates are used


# OpenMP threads per fit and prediction. One by default: on a machine whose cores are busy with other work,
# scikit-learn's threads wait for each other spinning, and two threads ran a training 14 times slower than one
# (402 s against 29 s, on two loaded cores). An idle machine may set more (RECOUP_INSIGHTS_THREADS).
THREADS = 1


def _setting(name: str, default: int, unconfigured: int) -> int:
    """An integer setting of Django's, or `unconfigured` when the module runs without Django."""
    from django.conf import settings

    return int(getattr(settings, name, default)) if settings.configured else unconfigured


def threads() -> Any:
    return threadpool_limits(limits=_setting("RECOUP_INSIGHTS_THREADS", THREADS, THREADS), user_api="openmp")


class NotEnoughHistory(ValueError):
    """Too few settled invoices to learn from; the baseline answers instead."""


@dataclass
class Bundle:
    """What a stored model version holds: the estimators and what they need to be applied."""

    estimators: dict[str, Any]
    feature_names: tuple[str, ...]
    late_threshold: float
    config: dict[str, Any]
    validation: dict[str, Any]
    trained_through: dt.date
    rows: int
    settled_rows: int
    sklearn_version: str = ""
    reference: dict[str, float] = field(default_factory=dict)  # feature medians, for the risk drivers

    def dumps(self) -> bytes:
        buffer = io.BytesIO()
        joblib.dump(self, buffer, compress=3)
        return buffer.getvalue()

    @staticmethod
    def loads(data: bytes) -> Bundle:
        bundle = joblib.load(io.BytesIO(bytes(data)))
        if not isinstance(bundle, Bundle):
            raise TypeError("not a Recoup insights model")
        return bundle


@dataclass(frozen=True)
class Predictions:
    """Per moment: days from the moment to the settlement (point, 10 % and 90 %) and three probabilities."""

    days: Floats
    days_p10: Floats
    days_p90: Floats
    p_late: Floats
    p_late30: Floats
    p_within7: Floats


def _regressor(loss: str, config: dict[str, Any], **extra: Any) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(
        loss=loss, early_stopping=False, random_state=RANDOM_STATE, **config, **extra
    )


def _classifier(config: dict[str, Any]) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(early_stopping=False, random_state=RANDOM_STATE, **config)


def _fittable(x: Floats) -> Floats:
    """scikit-learn cannot bin a column with no value at all (no credit limits anywhere, say): such a column
    is zero for fitting. No tree splits on a constant, so its values never matter when predicting."""
    empty = np.isnan(x).all(axis=0)
    if not empty.any():
        return x
    x = x.copy()
    x[:, empty] = 0.0
    return x


def _masks(x: Floats, m: Moments) -> dict[str, NDArray[np.bool_]]:
    """Which moments each estimator learns from: known labels, and (for the classifiers of lateness) only
    moments before the fact is decided: an invoice open after its due date is late for certain."""
    dpd = x[:, FEATURE_NAMES.index("days_past_due")]
    return {
        "days": ~np.isnan(m.settle_in),
        "late": ~np.isnan(m.late) & (dpd < 0),
        "late30": ~np.isnan(m.late30) & (dpd < 30),
    }


def _subsample(n: int, limit: int | None) -> NDArray[np.int64]:
    if limit is None or n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(RANDOM_STATE).choice(n, size=limit, replace=False))


def fit(facts: Facts, **options: Any) -> Bundle:
    """Fit the six estimators on the facts dated on or before `known_through` (and, when given, only the
    invoices issued before `issued_before`). `max_rows` caps the moments learnt from (a seeded sample);
    `choose=False` skips the validation split and uses the first candidates."""
    with threads():
        return _fit(facts, **options)


def _fit(
    facts: Facts,
    *,
    known_through: dt.date,
    issued_before: dt.date | None = None,
    max_rows: int | None = None,
    choose: bool = True,
    min_settled: int = 100,
) -> Bundle:
    builder = FeatureBuilder(facts)
    through = known_through.toordinal()
    before = issued_before.toordinal() if issued_before else None
    limit = through + 1 if before is None else min(before, through + 1)
    settled = int(np.count_nonzero((facts.inv_issue < limit) & (facts.inv_settled <= through)))
    if settled < min_settled:
        raise NotEnoughHistory(
            f"{settled} invoices settled by {known_through}; the models need at least {min_settled}."
        )
    moments = training_moments(facts, known_through=through, issued_before=before, sample=max_rows)
    validation: dict[str, Any] = {}
    choice: dict[str, Any] = {"tree": 0, "loss": REGRESSION_LOSSES[0], "classifier_tree": 0, "threshold": 0.5}
    if choose:
        large = settled > LARGE_LEDGER
        choice, validation = _choose(facts, builder, moments, max_rows=max_rows, large=large)
    keep = _subsample(len(moments.rows), max_rows)
    moments = _take(moments, keep)
    x = builder.build(moments.rows, moments.moments)
    estimators = _fit_all(_fittable(x), moments, choice)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column with no value at all has no median
        medians = np.nanmedian(x[moments.is_issue] if moments.is_issue.any() else x, axis=0)
    return Bundle(
        estimators=estimators,
        feature_names=FEATURE_NAMES,
        late_threshold=float(choice["threshold"]),
        config={
            "regressor": {"loss": choice["loss"], **TREE_CONFIGS[choice["tree"]]},
            "classifiers": TREE_CONFIGS[choice["classifier_tree"]],
            "quantiles": list(QUANTILES),
            "random_state": RANDOM_STATE,
        },
        validation=validation,
        trained_through=known_through,
        rows=len(moments.rows),
        settled_rows=settled,
        sklearn_version=sklearn.__version__,
        reference={name: float(v) for name, v in zip(FEATURE_NAMES, medians, strict=True) if np.isfinite(v)},
    )


def _take(m: Moments, keep: NDArray[np.int64]) -> Moments:
    return Moments(
        rows=m.rows[keep],
        moments=m.moments[keep],
        is_issue=m.is_issue[keep],
        settle_in=m.settle_in[keep],
        late=m.late[keep],
        late30=m.late30[keep],
        within7=m.within7[keep],
    )


def _fit_all(x: Floats, m: Moments, choice: dict[str, Any], *, quantiles: bool = True) -> dict[str, Any]:
    masks = _masks(x, m)
    tree = TREE_CONFIGS[choice["tree"]]
    estimators: dict[str, Any] = {}
    days = masks["days"]
    if not days.any():  # a window where nothing had settled yet: nothing to learn the days from
        raise NotEnoughHistory("No invoice of the training window had settled by its end.")
    # A column can be empty in a subset though not in the whole (a tiny ledger): each fit gets its own.
    x_days = _fittable(x[days])
    estimators["days"] = _regressor(choice["loss"], tree).fit(x_days, m.settle_in[days])
    if quantiles:
        for q in QUANTILES:
            estimators[f"days_q{round(q * 100)}"] = _regressor("quantile", tree, quantile=q).fit(
                x_days, m.settle_in[days]
            )
    classifier_tree = TREE_CONFIGS[choice["classifier_tree"]]
    for name, labels in (("late", m.late), ("late30", m.late30)):
        mask = masks[name]
        y = labels[mask].astype(np.int64)
        if len(np.unique(y)) < 2:
            estimators[name] = float(y[0]) if len(y) else 0.0  # a constant: every case went one way
        else:
            estimators[name] = _classifier(classifier_tree).fit(_fittable(x[mask]), y)
    return estimators


def _choose(
    facts: Facts, builder: FeatureBuilder, outer: Moments, *, max_rows: int | None, large: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Pick the tree configuration, the regression loss and the late threshold on the last fifth of the
    training window (by issue date), fitting on what was known before it."""
    issue_days = np.sort(facts.inv_issue[outer.rows[outer.is_issue]])
    split = int(issue_days[int(len(issue_days) * (1 - VALIDATION_SHARE))])
    rows = None if max_rows is None else min(max_rows, CHOOSE_MAX_ROWS)
    inner = training_moments(facts, known_through=split - 1, sample=rows)
    valid = outer.is_issue & (outer.moments >= split)
    picked = np.flatnonzero(valid)
    valid = np.zeros(len(valid), dtype=bool)
    valid[picked[_subsample(len(picked), None if rows is None else VALIDATION_MAX_ROWS)]] = True
    # At scale, only the candidates quick to apply: scoring a hundred thousand invoices, every tree counts.
    candidates = [(t, c) for t, c in enumerate(TREE_CONFIGS) if not large or c["max_iter"] <= LARGE_MAX_TREES]
    fallback = {"tree": 0, "loss": REGRESSION_LOSSES[0], "classifier_tree": 0, "threshold": 0.5}
    if int(valid.sum()) < MIN_VALIDATION or len(inner.rows) < MIN_VALIDATION:
        return fallback, {"note": "too few invoices to validate; scikit-learn's defaults are used"}
    inner = _take(inner, _subsample(len(inner.rows), rows))
    xi = _fittable(builder.build(inner.rows, inner.moments))
    vrows, vmoments = outer.rows[valid], outer.moments[valid]
    xv = builder.build(vrows, vmoments)
    v_days, v_late = outer.settle_in[valid], outer.late[valid]
    masks = _masks(xi, inner)
    days = masks["days"]
    known_days = ~np.isnan(v_days)
    results: dict[str, Any] = {
        "split": from_ordinal(split).isoformat(),
        "validation_invoices": int(valid.sum()),
    }
    best: tuple[float, int, str] | None = None
    for t, tree in candidates:
        for loss in REGRESSION_LOSSES:
            model = _regressor(loss, tree).fit(xi[days], inner.settle_in[days])
            mae = float(mean_absolute_error(v_days[known_days], np.maximum(model.predict(xv[known_days]), 0)))
            results[f"mae_tree{t}_{loss}"] = round(mae, 4)
            if best is None or mae < best[0]:
                best = (mae, t, loss)
    assert best is not None
    known_late = ~np.isnan(v_late)
    late_mask = masks["late"]
    best_clf: tuple[float, int, Any] | None = None
    for t, tree in candidates:
        y = inner.late[late_mask].astype(np.int64)
        if len(np.unique(y)) < 2 or len(np.unique(v_late[known_late])) < 2:
            break
        clf = _classifier(tree).fit(xi[late_mask], y)
        p = clf.predict_proba(xv[known_late])[:, 1]
        loss_value = float(log_loss(v_late[known_late], p, labels=[0, 1]))
        results[f"logloss_tree{t}"] = round(loss_value, 4)
        if best_clf is None or loss_value < best_clf[0]:
            best_clf = (loss_value, t, p)
    threshold = 0.5
    if best_clf is not None:
        truth = v_late[known_late].astype(np.int64)
        scores = [
            (float(f1_score(truth, best_clf[2] >= c, zero_division=0)), -abs(c - 0.5), c) for c in _CUTS
        ]
        threshold = max(scores)[2]
        results["f1_at_threshold"] = round(max(scores)[0], 4)
    choice = {
        "tree": best[1],
        "loss": best[2],
        "classifier_tree": best_clf[1] if best_clf else 0,
        "threshold": round(float(threshold), 2),
    }
    results["chosen"] = dict(choice)
    return choice, results


_CUTS = tuple(round(0.2 + 0.01 * i, 2) for i in range(61))


def predict(bundle: Bundle, x: Floats) -> Predictions:
    """Apply the estimators; the interval is put in order and widened to contain the point, and lateness
    already decided on the moment (open past the due date, or 30 days past it) is certain."""
    if bundle.feature_names != FEATURE_NAMES:
        raise ValueError("the model was trained on other features; train it again")
    n = len(x)
    if n == 0:
        empty = np.zeros(0)
        return Predictions(empty, empty, empty, empty, empty, empty)
    e = bundle.estimators

    def apply(part: Floats) -> Floats:
        return np.column_stack(
            [e["days"].predict(part), e["days_q10"].predict(part), e["days_q90"].predict(part)]
            + [_proba(e[name], part) for name in ("late", "late30")]
        )

    out = _in_chunks(apply, x)
    days, low, high = (np.maximum(out[:, k], 0.0) for k in range(3))
    probability = {"late": out[:, 3], "late30": out[:, 4]}
    low, high = np.minimum(low, high), np.maximum(low, high)
    low, high = np.minimum(low, days), np.maximum(high, days)
    dpd = x[:, FEATURE_NAMES.index("days_past_due")]
    p_late = np.where(dpd >= 0, 1.0, probability["late"])
    p_late30 = np.where(dpd >= 30, 1.0, probability["late30"])
    # P(settled within 7 days) from the same distribution the cash forecast spreads: the two agree.
    p_within7 = forecast.settle_cdf(np.array([7.0]), days, low, high)[:, 0]
    return Predictions(days, low, high, p_late, np.minimum(p_late30, p_late), p_within7)


def p_late30(bundle: Bundle, x: Floats) -> Floats:
    """P(settled more than 30 days late) alone, exactly as `predict` gives it: what the risk drivers
    recompute with a group of features replaced."""
    if len(x) == 0:
        return np.zeros(0)
    e = bundle.estimators
    out = _in_chunks(lambda part: np.column_stack([_proba(e["late30"], part), _proba(e["late"], part)]), x)
    p30, p_late = out[:, 0], out[:, 1]
    dpd = x[:, FEATURE_NAMES.index("days_past_due")]
    return np.where(dpd >= 30, 1.0, np.where(dpd >= 0, p30, np.minimum(p30, p_late)))


# Predictions run on blocks of rows, on PREDICT_THREADS Python threads each with one OpenMP thread: a block's
# features stay in the cache while every tree walks them, and the blocks need no barrier between trees (as
# OpenMP's threads do, spinning when the cores are busy). Each row's prediction is the same, whatever block.
PREDICT_CHUNK = 16_384
PREDICT_THREADS = 2


def _in_chunks(apply: Any, x: Floats) -> Floats:
    """`apply` (rows of features → one row of outputs each) over `x` in blocks, on a few threads."""
    count = _setting("RECOUP_INSIGHTS_PREDICT_THREADS", PREDICT_THREADS, 1)
    blocks = [x[start : start + PREDICT_CHUNK] for start in range(0, len(x), PREDICT_CHUNK)]

    def one(block: Floats) -> Floats:
        with warnings.catch_warnings(), threads():  # the limit is each thread's own: set it in each
            warnings.simplefilter("ignore", UserWarning)
            return np.asarray(apply(block), dtype=np.float64)

    if len(blocks) <= 1 or count <= 1:
        return np.concatenate([one(b) for b in blocks])
    with ThreadPoolExecutor(min(count, len(blocks))) as pool:
        return np.concatenate(list(pool.map(one, blocks)))


def _proba(estimator: Any, x: Floats) -> Floats:
    if isinstance(estimator, float):
        return np.full(len(x), estimator)
    return np.asarray(estimator.predict_proba(x)[:, 1], dtype=np.float64)


def fit_rows(facts: Facts, rows: Ints, moments: Ints) -> Floats:
    """The feature matrix of some moments (a convenience for callers with one builder's worth of facts)."""
    return FeatureBuilder(facts).build(rows, moments)
