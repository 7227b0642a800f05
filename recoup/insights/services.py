"""Writes of insights: train a model version, score every open invoice and customer, rescore one customer,
set the priority weights, run a backtest. Keyword-only; each writes in one transaction and records an event.

The heavy part of each (reading the ledger into arrays, fitting, predicting) runs before its transaction
opens, so a training of minutes never holds a lock; the transaction then swaps the results in at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from recoup.core.errors import DomainError, NotAllowed
from recoup.core.events import record_event
from recoup.core.money import quantize
from recoup.insights import backtest, rules, selectors, training
from recoup.insights.features import FEATURE_GROUPS, FEATURE_NAMES, Facts, FeatureBuilder
from recoup.insights.models import (
    Backtest,
    BacktestKind,
    CustomerPriority,
    ForecastRecord,
    InvoicePrediction,
    Method,
    PredictionModel,
    PriorityWeights,
)
from recoup.ledger.aging import kept_amounts_exact, open_items_sql, rates_as_of
from recoup.users.models import MANAGE_ROLES

log = logging.getLogger(__name__)
ZERO = Decimal(0)
MAX_TRAINING_ROWS = 300_000  # moments learnt from at most (a seeded sample): bounds the time and memory
DRIVERS = 3  # risk drivers kept per customer
# A full scoring works out the drivers of this many customers, the highest ranked; a rescoring, always.
DRIVERS_FOR = 1_000
GROUP_LABELS = {
    "history": "Payment history",
    "exposure": "Other open and overdue invoices",
    "age": "How overdue the invoices are",
    "disputes": "Disputes",
    "promises": "Broken promises",
    "credit": "Credit-limit use",
    "amount": "Invoice amounts",
    "terms": "Payment terms",
    "calendar": "Calendar",
}


# Invoices settled by the end of the window before a model is trained; until then the baseline answers.
MIN_SETTLED = 100


def _max_rows() -> int:
    return int(getattr(settings, "RECOUP_INSIGHTS_MAX_TRAINING_ROWS", MAX_TRAINING_ROWS))


def _min_settled() -> int:
    return int(getattr(settings, "RECOUP_INSIGHTS_MIN_SETTLED", MIN_SETTLED))


def _today() -> dt.date:
    return timezone.localdate()


# Training ---------------------------------------------------------------------------------------------------


def model_train(*, actor: Any, through: dt.date | None = None, facts: Facts | None = None) -> PredictionModel:
    """Fit a new version on the ledger's facts dated on or before `through` (default today) and make it the
    active one. Refused (DomainError) while too few invoices have settled: the baseline answers until then."""
    through = through or _today()
    if through > _today():
        raise DomainError("A model cannot be trained on facts from the future.", field="through")
    started = time.monotonic()
    facts = facts if facts is not None else selectors.load_facts()
    try:
        bundle = training.fit(facts, known_through=through, max_rows=_max_rows(), min_settled=_min_settled())
    except training.NotEnoughHistory as exc:
        raise DomainError(str(exc), field="through", code="not_enough_history") from exc
    data = bundle.dumps()
    in_window = facts.inv_issue <= through.toordinal()
    first_issue = int(facts.inv_issue[in_window].min()) if in_window.any() else through.toordinal()
    seconds = time.monotonic() - started
    try:
        with transaction.atomic():
            latest = PredictionModel.objects.select_for_update().aggregate(v=Max("version"))["v"] or 0
            PredictionModel.objects.filter(is_active=True).update(is_active=False)
            model = PredictionModel.objects.create(
                version=latest + 1,
                algorithm=training.ALGORITHM,
                trained_by=actor if getattr(actor, "pk", None) else None,
                train_from=dt.date.fromordinal(first_issue),
                trained_through=through,
                invoices=int(in_window.sum()),
                settled_invoices=bundle.settled_rows,
                moments=bundle.rows,
                seconds=round(seconds, 2),
                config=bundle.config | {"late_threshold": bundle.late_threshold},
                metrics=bundle.validation,
                feature_names=list(bundle.feature_names),
                sklearn_version=bundle.sklearn_version,
                estimator=data,
                sha256=hashlib.sha256(data).hexdigest(),
                is_active=True,
            )
            record_event(
                actor=actor,
                verb="insights.model_trained",
                target=model,
                data={"version": model.version, "through": through.isoformat(), "moments": bundle.rows},
            )
    except IntegrityError as exc:  # two trainings finished at the same instant
        raise DomainError("Another training finished at the same moment; train again.") from exc
    return model


def _usable_bundle() -> tuple[PredictionModel | None, training.Bundle | None]:
    """The active model and its estimators, or (None, None): no model yet, or one trained on other features
    (an upgrade), in which case the baseline answers until the next training."""
    model = selectors.active_model()
    if model is None:
        return None, None
    if list(model.feature_names) != list(FEATURE_NAMES):
        log.warning(
            "insights model v%s has other features than this version of Recoup; train it again", model.version
        )
        return None, None
    return model, selectors.model_bundle(model)


# Scoring ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scored:
    """Everything scoring works out, before it is written: per open invoice and per customer."""

    as_of: dt.date
    invoice_ids: np.ndarray
    invoice_customers: np.ndarray
    methods: np.ndarray
    days: np.ndarray
    days_p10: np.ndarray
    days_p90: np.ndarray
    p_late: np.ndarray
    p_late30: np.ndarray
    p_within7: np.ndarray
    customers: np.ndarray
    open_amount: np.ndarray
    at_risk: np.ndarray
    disputed: np.ndarray
    max_days_past_due: np.ndarray
    broken_promises: np.ndarray
    p_paid_7_days: np.ndarray
    risk: np.ndarray
    drivers: list[list[dict[str, Any]]]
    customer_methods: np.ndarray
    points: dict[str, np.ndarray]


def score(
    facts: Facts,
    bundle: training.Bundle | None,
    *,
    as_of: dt.date,
    drivers_for: int | None = None,
    weights: dict[str, float] | None = None,
) -> Scored:
    """Predict every invoice open at the end of `as_of` and work out each customer's terms; no writes.

    The risk drivers cost a prediction per group of features: with `drivers_for`, only that many customers
    get them, the highest ranked by `weights` (the ones a worklist shows first); None: every customer."""
    day = as_of.toordinal()
    rows, open_amount = facts.open_on(day)
    # Only the customers with an open invoice matter: their facts alone give the same features, sooner.
    facts, kept = facts.of_customers(np.unique(facts.inv_customer[rows]))
    rows = np.searchsorted(kept, rows)
    x = FeatureBuilder(facts).build(rows, np.full(len(rows), day))
    col = {name: i for i, name in enumerate(FEATURE_NAMES)}
    if bundle is not None:
        p = training.predict(bundle, x)
        days, low, high = p.days, p.days_p10, p.days_p90
        p_late, p_late30, p_within7 = p.p_late, p.p_late30, p.p_within7
        methods = np.full(len(rows), Method.MODEL.value, dtype=object)
    else:
        b = rules.baseline(
            age=x[:, col["age_days"]],
            terms=x[:, col["terms_days"]],
            history_count=x[:, col["hist_count"]],
            history_mean_days=x[:, col["hist_mean_days"]],
            history_std_days=x[:, col["hist_std_days"]],
            history_late_rate=x[:, col["hist_late_rate"]],
            history_late30_rate=x[:, col["hist_late30_rate"]],
        )
        days, low, high, p_late, p_late30 = b.days, b.days_p10, b.days_p90, b.p_late, b.p_late30
        p_within7 = np.full(len(rows), np.nan)
        methods = np.where(b.uses_history, Method.CUSTOMER_AVERAGE.value, Method.TERMS.value).astype(object)
    # An invoice open at the end of the day settles the next day at the earliest.
    days, low, high = np.maximum(days, 1.0), np.maximum(low, 1.0), np.maximum(high, 1.0)

    invoice_customers = facts.inv_customer[rows]
    customers, ci = np.unique(invoice_customers, return_inverse=True)
    m = len(customers)
    total = np.bincount(ci, open_amount, minlength=m)

    def share(values: np.ndarray) -> np.ndarray:  # the open-amount-weighted mean per customer
        return np.bincount(ci, open_amount * values, minlength=m) / np.where(total > 0, total, 1.0)

    at_risk_share = share(np.nan_to_num(p_late, nan=0.0))
    late30_share = share(np.nan_to_num(p_late30, nan=0.0))
    known7 = ~np.isnan(p_within7)
    weight7 = np.bincount(ci, open_amount * known7, minlength=m)
    p7 = np.bincount(ci, open_amount * np.nan_to_num(p_within7, nan=0.0), minlength=m)
    p_paid_7_days = np.where(weight7 > 0, p7 / np.where(weight7 > 0, weight7, 1.0), np.nan)
    disputed_amount = np.minimum(x[:, col["disputed_now"]] * facts.inv_amount[rows], open_amount)
    disputed_share = share(np.where(open_amount > 0, disputed_amount / np.maximum(open_amount, 1e-12), 0.0))
    max_dpd = np.full(m, -(10**6), dtype=np.int64)
    np.maximum.at(max_dpd, ci, x[:, col["days_past_due"]].astype(np.int64))
    broken = np.zeros(m, dtype=np.int64)
    np.maximum.at(broken, ci, x[:, col["broken_promises_180"]].astype(np.int64))
    risk = rules.risk_score(late30_share)
    risk = np.atleast_1d(risk)
    if bundle is not None:
        drivers: list[list[dict[str, Any]]] = []
        customer_methods = np.full(m, Method.MODEL.value, dtype=object)
    else:
        uses = np.zeros(m, dtype=bool)
        np.logical_or.at(uses, ci, methods == Method.CUSTOMER_AVERAGE.value)
        customer_methods = np.where(uses, Method.CUSTOMER_AVERAGE.value, Method.TERMS.value).astype(object)
        drivers = [
            [{"group": "history", "label": GROUP_LABELS["history"], "points": int(r)}] if u and r > 0 else []
            for u, r in zip(uses, risk, strict=True)
        ]
    points = {
        "amount_at_risk": np.atleast_1d(rules.amount_at_risk_points(total * at_risk_share)),
        "days_past_due": np.atleast_1d(rules.days_past_due_points(max_dpd)),
        "broken_promises": np.atleast_1d(rules.broken_promises_points(broken)),
        "customer_risk": np.atleast_1d(rules.customer_risk_points(risk)),
        "about_to_pay": np.atleast_1d(rules.about_to_pay_points(p_paid_7_days)),
        "open_dispute": np.atleast_1d(rules.open_dispute_points(disputed_share)),
    }
    if bundle is not None:
        chosen = np.ones(m, dtype=bool)
        if drivers_for is not None and m > drivers_for:
            w = rules.check_weights(weights or {})
            ranking = sum(w[t] * points[t] for t in rules.TERMS)
            chosen = np.zeros(m, dtype=bool)
            chosen[np.argsort(-ranking, kind="stable")[:drivers_for]] = True
        drivers = _drivers(bundle, x, ci, open_amount, total, late30_share, chosen)
    return Scored(
        as_of=as_of,
        invoice_ids=facts.inv_id[rows],
        invoice_customers=invoice_customers,
        methods=methods,
        days=days,
        days_p10=low,
        days_p90=high,
        p_late=p_late,
        p_late30=p_late30,
        p_within7=p_within7,
        customers=customers,
        open_amount=total,
        at_risk=at_risk_share,
        disputed=disputed_share,
        max_days_past_due=max_dpd,
        broken_promises=broken,
        p_paid_7_days=p_paid_7_days,
        risk=risk,
        drivers=drivers,
        customer_methods=customer_methods,
        points=points,
    )


def _drivers(
    bundle: training.Bundle,
    x: np.ndarray,
    ci: np.ndarray,
    open_amount: np.ndarray,
    total: np.ndarray,
    late30_share: np.ndarray,
    chosen: np.ndarray,
) -> list[list[dict[str, Any]]]:
    """What raises each chosen customer's risk most: for each group of features, the risk points it loses
    when that group is replaced by a typical invoice's values (the training medians). The groups that add
    the most, by at least a point, are its drivers. Customers not chosen get none."""
    m = len(total)
    rows = chosen[ci]
    xs, cs, amounts = x[rows], ci[rows], open_amount[rows]
    groups = [g for g in GROUP_LABELS if any(FEATURE_GROUPS[name] == g for name in FEATURE_NAMES)]
    if len(xs) == 0:
        return [[] for _ in range(m)]
    # Every group's variant stacked into one matrix: one prediction call, not one per group.
    stacked = np.tile(xs, (len(groups), 1))
    for k, group in enumerate(groups):
        for i, name in enumerate(FEATURE_NAMES):
            if FEATURE_GROUPS[name] == group:
                stacked[k * len(xs) : (k + 1) * len(xs), i] = bundle.reference.get(name, np.nan)
    p_all = training.p_late30(bundle, stacked).reshape(len(groups), len(xs))
    effects = {}
    for k, group in enumerate(groups):
        without = np.bincount(cs, amounts * p_all[k], minlength=m) / np.where(total > 0, total, 1.0)
        effects[group] = (late30_share - without) * 100.0
    out: list[list[dict[str, Any]]] = [[] for _ in range(m)]
    names = list(effects)
    if not names:
        return out
    matrix = np.column_stack([effects[g] for g in names])
    for k in np.flatnonzero(chosen).tolist():
        ranked = sorted(((matrix[k, j], names[j]) for j in range(len(names))), reverse=True)
        out[k] = [
            {"group": g, "label": GROUP_LABELS[g], "points": round(v)}
            for v, g in ranked[:DRIVERS]
            if v >= 1.0
        ]
    return out


def _exact_open(as_of: dt.date, customer_ids: Sequence[int] | None) -> dict[int, Decimal]:
    """Each customer's open amount as of `as_of` in the base currency, exact: the ledger's own open-items
    query, summed per currency and converted at the rate of the day."""
    base = settings.BASE_CURRENCY
    rates = rates_as_of(as_of)
    sql, params = open_items_sql(
        as_of=as_of,
        columns=("i.customer_id", "i.currency"),
        customer_ids=customer_ids,
        kept_is_exact=kept_amounts_exact(as_of),
    )
    totals: dict[int, Decimal] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT o.customer_id, o.currency, SUM(o.open) FROM ({sql}) o WHERE o.open > 0 GROUP BY 1, 2",
            params,
        )
        for customer_id, currency, amount in cursor.fetchall():
            if currency not in rates:
                raise DomainError(
                    f"No {currency}→{base} rate is dated on or before {as_of}.",
                    field="as_of",
                    code="missing_fx_rate",
                )
            value = quantize(Decimal(str(amount)), currency) * rates[currency].rate
            totals[customer_id] = totals.get(customer_id, ZERO) + value
    return {c: quantize(v, base) for c, v in totals.items()}


PREDICTION_COLUMNS = (
    "invoice_id",
    "customer_id",
    "as_of",
    "method",
    "model_id",
    "predicted_date",
    "p10_date",
    "p90_date",
    "p_paid_by_due",
    "p_late_30",
    "p_paid_7_days",
    "scored_at",
)
PRIORITY_COLUMNS = (
    "customer_id",
    "as_of",
    "method",
    "model_id",
    "currency",
    "open_amount",
    "amount_at_risk",
    "disputed_amount",
    "open_invoices",
    "max_days_past_due",
    "broken_promises",
    "p_paid_7_days",
    "risk",
    "drivers",
    "scored_at",
    *(f"term_{t}" for t in rules.TERMS),
    "score",
)


def _dates(origin: int, days: np.ndarray, rounding: Any) -> list[dt.date | None]:
    ordinals = origin + rounding(np.nan_to_num(days, nan=0.0)).astype(np.int64)
    return [
        dt.date.fromordinal(o) if ok else None
        for o, ok in zip(ordinals.tolist(), np.isfinite(days), strict=True)
    ]


def _probabilities(values: np.ndarray) -> list[float | None]:
    rounded = np.round(values, 6)
    return [None if v != v else v for v in rounded.tolist()]  # NaN (unknown) is NULL


def _copy_text(value: Any) -> str:
    """One value in COPY's text format: NULL as \\N, text with its backslashes, tabs and newlines escaped."""
    if value is None:
        return "\\N"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | dict):
        value = json.dumps(value)
    if isinstance(value, str):
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return str(value)


def _column_text(values: list[Any]) -> list[str]:
    """A column's values in COPY's text format, each kind the quick way: numbers as they print, repeated
    values (dates, names, amounts) worked out once each."""
    present = next((v for v in values if v is not None), None)
    if isinstance(present, int | float) and not isinstance(present, bool):
        return ["\\N" if v is None else repr(v) for v in values]
    if isinstance(present, list | dict):
        return [_copy_text(v) for v in values]
    text = {v: _copy_text(v) for v in set(values)}
    return [text[v] for v in values]


def _insert(
    model: type[InvoicePrediction] | type[CustomerPriority], columns: Sequence[str], data: Sequence[list[Any]]
) -> None:
    """Insert rows given column by column (`data[i]` holds the values of `columns[i]`): by COPY on PostgreSQL
    (a hundred thousand rows in a second or two, where bulk_create takes most of a minute), by bulk_create
    on SQLite."""
    if connection.vendor == "postgresql":
        sql = f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"
        lines = ["\t".join(row) for row in zip(*(_column_text(c) for c in data), strict=True)]
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for start in range(0, len(lines), 10_000):
                copy.write("\n".join(lines[start : start + 10_000]) + "\n")
        return
    objects: list[Any] = [model(**dict(zip(columns, row, strict=True))) for row in zip(*data, strict=True)]
    model._default_manager.bulk_create(objects, batch_size=2000)


def _write(scored: Scored, model: PredictionModel | None, *, customer_ids: Sequence[int] | None) -> None:
    """Replace the predictions and terms of `customer_ids` (None: everyone's) by `scored`."""
    base = settings.BASE_CURRENCY
    now = timezone.now()
    as_of = scored.as_of
    origin = as_of.toordinal()
    model_id = model.pk if model is not None else None
    exact = _exact_open(as_of, customer_ids)
    n = len(scored.invoice_ids)
    predicted = _dates(origin, scored.days, np.rint)
    methods = scored.methods.tolist()
    predictions = [
        scored.invoice_ids.tolist(),
        scored.invoice_customers.tolist(),
        [as_of] * n,
        methods,
        [model_id if m == Method.MODEL else None for m in methods],
        [d or as_of for d in predicted],
        _dates(origin, scored.days_p10, np.floor),
        _dates(origin, scored.days_p90, np.ceil),
        _probabilities(1.0 - scored.p_late),
        _probabilities(scored.p_late30),
        _probabilities(scored.p_within7),
        [now] * n,
    ]
    counts = np.bincount(
        np.searchsorted(scored.customers, scored.invoice_customers), minlength=len(scored.customers)
    ).tolist()
    p7 = _probabilities(scored.p_paid_7_days)
    points = {t: np.round(scored.points[t], 4).tolist() for t in rules.TERMS}
    priorities = []
    for k, customer_id in enumerate(scored.customers.tolist()):
        open_amount = exact.get(customer_id, ZERO)
        method = scored.customer_methods[k]
        priorities.append(
            (
                customer_id,
                as_of,
                method,
                model_id if method == Method.MODEL else None,
                base,
                open_amount,
                quantize(open_amount * Decimal(f"{scored.at_risk[k]:.6f}"), base),
                quantize(open_amount * Decimal(f"{scored.disputed[k]:.6f}"), base),
                counts[k],
                int(scored.max_days_past_due[k]),
                int(scored.broken_promises[k]),
                p7[k],
                int(scored.risk[k]),
                scored.drivers[k],
                now,
                *(points[t][k] for t in rules.TERMS),
            )
        )
    # The weights row, locked: a change of weights waits for this write, then rewrites its scores; a write
    # after that change reads the new weights.
    weights_row, _ = PriorityWeights.objects.select_for_update().get_or_create(pk=1)
    weights = row_weights(weights_row)
    scores = np.round(sum(weights[t] * np.asarray(points[t], dtype=np.float64) for t in rules.TERMS), 4)
    scores_list = np.atleast_1d(scores).tolist() if len(priorities) else []
    priorities = [(*row, score) for row, score in zip(priorities, scores_list, strict=True)]
    if customer_ids is None:
        InvoicePrediction.objects.all().delete()
        CustomerPriority.objects.all().delete()
    else:
        InvoicePrediction.objects.filter(customer_id__in=customer_ids).delete()
        CustomerPriority.objects.filter(customer_id__in=customer_ids).delete()
    _insert(InvoicePrediction, PREDICTION_COLUMNS, predictions)
    _insert(
        CustomerPriority,
        PRIORITY_COLUMNS,
        [list(c) for c in zip(*priorities, strict=True)] if priorities else [[] for _ in PRIORITY_COLUMNS],
    )


@dataclass(frozen=True)
class ScoreSummary:
    as_of: dt.date
    model_version: int | None
    invoices: int
    customers: int
    baseline_invoices: int
    seconds: float
    steps: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "model_version": self.model_version,
            "invoices": self.invoices,
            "customers": self.customers,
            "baseline_invoices": self.baseline_invoices,
            "seconds": round(self.seconds, 2),
            "steps": self.steps,
        }


def scores_refresh(*, actor: Any, as_of: dt.date | None = None, facts: Facts | None = None) -> ScoreSummary:
    """Predict every open invoice and work out every customer's terms as of `as_of` (default today) with the
    active model, or the baseline while there is none, replacing all earlier predictions. `facts`: the
    ledger already read (the nightly run reads it once for training and scoring)."""
    clock = [time.monotonic()]
    steps: dict[str, float] = {}

    def step(name: str) -> None:
        clock.append(time.monotonic())
        steps[name] = round(clock[-1] - clock[-2], 2)

    as_of = as_of or _today()
    model, bundle = _usable_bundle()
    weights = selectors.priority_weights()
    facts = facts if facts is not None else selectors.load_facts()
    step("read")
    scored = score(facts, bundle, as_of=as_of, drivers_for=DRIVERS_FOR, weights=weights)
    step("predict")
    with transaction.atomic():
        _write(scored, model, customer_ids=None)
        step("write")
        record_event(
            actor=actor,
            verb="insights.scored",
            data={
                "as_of": as_of.isoformat(),
                "invoices": len(scored.invoice_ids),
                "customers": len(scored.customers),
            },
        )
    step("commit")
    forecast_record(as_of=as_of)
    step("forecast")
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        # Every row was replaced: reclaim the dead ones and refresh the statistics, so that the worklist's
        # sort reads a table of its size (PostgreSQL's autovacuum would come later).
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE insights_invoiceprediction, insights_customerpriority")
        step("vacuum")
    return ScoreSummary(
        as_of=as_of,
        model_version=model.version if model else None,
        invoices=len(scored.invoice_ids),
        customers=len(scored.customers),
        baseline_invoices=int(np.count_nonzero(scored.methods != Method.MODEL)),
        seconds=clock[-1] - clock[0],
        steps=steps,
    )


def forecast_record(*, as_of: dt.date) -> list[ForecastRecord]:
    """Keep the cash forecast that the predictions as of `as_of` make (replacing one kept earlier that day),
    so that the dashboard can set what was collected against what had been forecast. A currency with no
    rate yet leaves nothing kept (and a warning in the log)."""
    try:
        result = selectors.cash_forecast()
    except DomainError as exc:
        log.warning("No cash forecast kept for %s: %s", as_of, exc.message)
        return []
    rows = [
        ForecastRecord(
            made_on=result.as_of,
            week=w.week,
            start=w.start,
            end=w.end,
            currency=result.currency,
            expected=w.expected,
            low=w.low,
            high=w.high,
        )
        for w in result.weeks
    ]
    with transaction.atomic():
        ForecastRecord.objects.filter(made_on=result.as_of).delete()
        return ForecastRecord.objects.bulk_create(rows)


RESCORE_CHUNK = 500  # customers per facts query: well inside SQLite's limit on query parameters


def customers_rescore(*, actor: Any, customer_ids: Sequence[int], as_of: dt.date | None = None) -> int:
    """Rescore these customers only (their open invoices and their terms), as after a payment or a dispute
    event. Returns how many open invoices were scored."""
    as_of = as_of or _today()
    ids = sorted({int(c) for c in customer_ids})
    model, bundle = _usable_bundle()
    scored_invoices = 0
    for start in range(0, len(ids), RESCORE_CHUNK):
        chunk = ids[start : start + RESCORE_CHUNK]
        scored = score(selectors.load_facts(customer_ids=chunk), bundle, as_of=as_of)
        with transaction.atomic():
            _write(scored, model, customer_ids=chunk)
            for customer_id in chunk:
                record_event(
                    actor=actor,
                    verb="insights.customer_rescored",
                    target_type="ledger.customer",
                    target_id=str(customer_id),
                    data={"as_of": as_of.isoformat(), "model_version": model.version if model else None},
                )
        scored_invoices += len(scored.invoice_ids)
    return scored_invoices


def rescore_customer(
    *, customer_id: int, actor: Any = None, as_of: dt.date | None = None
) -> CustomerPriority | None:
    """Rescore one customer: what the ledger and disputes call (on commit) after a payment or a dispute
    event. Returns its new terms (None once it has nothing open)."""
    customers_rescore(actor=actor, customer_ids=[customer_id], as_of=as_of)
    return CustomerPriority.objects.filter(customer_id=customer_id).first()


# Weights ----------------------------------------------------------------------------------------------------


@transaction.atomic
def priority_weights_update(*, actor: Any, **weights: float) -> PriorityWeights:
    """Set the weights of some priority terms (0 to 10; 0 leaves a term out). Managers and admins only. The
    worklist re-ranks at once: the same transaction rewrites every stored score with the new weights."""
    if actor is not None and not (getattr(actor, "is_authenticated", False) and actor.has_role(MANAGE_ROLES)):
        raise NotAllowed("Only managers and admins set the priority weights.")
    try:
        checked = rules.check_weights(weights)
    except ValueError as exc:
        name = next((t for t in weights if t in str(exc)), None)
        raise DomainError(str(exc), field=name) from exc
    row, _ = PriorityWeights.objects.select_for_update().get_or_create(pk=1)
    changes = {}
    for term in weights:
        old = getattr(row, term)
        if old != checked[term]:
            changes[term] = [old, checked[term]]
            setattr(row, term, checked[term])
    if changes:
        row.updated_by = actor if getattr(actor, "pk", None) else None
        row.save()
        # Every stored score follows in the same transaction: the worklist re-ranks when it commits.
        CustomerPriority.objects.update(score=selectors.priority_score_expression(row_weights(row)))
        record_event(actor=actor, verb="insights.weights_updated", target=row, data=changes)
    return row


def row_weights(row: PriorityWeights) -> dict[str, float]:
    return {term: float(getattr(row, term)) for term in rules.TERMS}


# Backtests --------------------------------------------------------------------------------------------------


def backtest_run(
    *, actor: Any, cutoff: dt.date, forecast: bool = False, facts: Facts | None = None
) -> list[Backtest]:
    """Train as of the day before `cutoff` on the invoices issued before it, predict those issued from it on,
    and store the report (docs/insights.md); with `forecast`, also the 13-week cash forecast made the day
    before `cutoff` against the payments that arrived. Returns the stored runs, the payments one first."""
    today = _today()
    if cutoff > today:
        raise DomainError("The cutoff is in the future: nothing after it is known yet.", field="cutoff")
    facts = facts if facts is not None else selectors.load_facts()
    cut = cutoff.toordinal()
    if not np.any(facts.inv_issue >= cut):
        raise DomainError(f"No invoice was issued on or after {cutoff}: nothing to test.", field="cutoff")
    try:
        bundle = training.fit(
            facts,
            known_through=cutoff - dt.timedelta(days=1),
            max_rows=_max_rows(),
            min_settled=_min_settled(),
        )
    except training.NotEnoughHistory as exc:
        raise DomainError(str(exc), field="cutoff", code="not_enough_history") from exc
    payments = backtest.payment_backtest(facts, cutoff=cutoff, known_through=today, bundle=bundle).as_dict()
    results = [(BacktestKind.PAYMENTS, payments)]
    if forecast:
        results.append(
            (
                BacktestKind.FORECAST,
                backtest.forecast_backtest(facts, cutoff=cutoff, known_through=today, bundle=bundle),
            )
        )
    runs = []
    with transaction.atomic():
        for kind, result in results:
            run = Backtest.objects.create(
                kind=kind,
                cutoff=cutoff,
                results=result,
                created_by=actor if getattr(actor, "pk", None) else None,
            )
            record_event(
                actor=actor, verb="insights.backtest", target=run, data={"kind": kind, "cutoff": str(cutoff)}
            )
            runs.append(run)
    return runs
