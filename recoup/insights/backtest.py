"""The published accuracy: train as of a cutoff, predict what came after, compare. Pure: no ORM, no today().

`payment_backtest` trains on the invoices issued before the cutoff, with only the facts dated before it, and
predicts each invoice issued on or after it at its issue date, from the facts known on that date (the model
stays the one trained at the cutoff, as it would in production until the next retraining). It reports the
MAE of the days to settle against two baselines, ROC AUC and F1 of "late" (settled after the due date) and a
calibration table of P(late) by decile.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import f1_score, mean_absolute_error, roc_auc_score

from recoup.insights import forecast, training
from recoup.insights.features import FEATURE_NAMES, Facts, FeatureBuilder, Floats


@dataclass(frozen=True)
class PaymentBacktest:
    cutoff: dt.date
    known_through: dt.date
    train_invoices: int
    test_invoices: int
    test_settled: int
    mae_days: float | None
    baseline_due_date_mae: float | None
    baseline_customer_mean_mae: float | None
    auc_late: float | None
    f1_late: float | None
    late_threshold: float
    late_rate: float | None
    interval_coverage: float | None
    calibration: list[dict[str, Any]]
    validation: dict[str, Any]
    config: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "mae_days": self.mae_days,
            "baseline_due_date_mae": self.baseline_due_date_mae,
            "baseline_customer_mean_mae": self.baseline_customer_mean_mae,
            "auc_late": self.auc_late,
            "f1_late": self.f1_late,
            "calibration": self.calibration,
            "cutoff": self.cutoff.isoformat(),
            "known_through": self.known_through.isoformat(),
            "train_invoices": self.train_invoices,
            "test_invoices": self.test_invoices,
            "test_settled": self.test_settled,
            "late_threshold": self.late_threshold,
            "late_rate": self.late_rate,
            "interval_coverage_p10_p90": self.interval_coverage,
            "validation": self.validation,
            "config": self.config,
        }


def _round(value: float | None, places: int = 3) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), places)


def calibration_table(p: Floats, truth: Floats, bins: int = 10) -> list[dict[str, Any]]:
    """P(late) in deciles of the predictions: each decile's count, mean prediction and observed late rate."""
    if len(p) == 0:
        return []
    order = np.argsort(p, kind="stable")
    table = []
    for decile, part in enumerate(np.array_split(order, bins), start=1):
        if len(part) == 0:
            continue
        table.append(
            {
                "decile": decile,
                "count": len(part),
                "p_low": _round(p[part].min()),
                "p_high": _round(p[part].max()),
                "mean_predicted": _round(p[part].mean()),
                "observed_late": _round(truth[part].mean()),
            }
        )
    return table


def payment_backtest(
    facts: Facts,
    *,
    cutoff: dt.date,
    known_through: dt.date,
    max_rows: int | None = None,
    bundle: training.Bundle | None = None,
) -> PaymentBacktest:
    """`known_through` is the day whose knowledge grades the predictions (today, in production); `bundle`
    a model already trained as of the day before the cutoff."""
    cut = cutoff.toordinal()
    if bundle is None:
        bundle = training.fit(facts, known_through=cutoff - dt.timedelta(days=1), max_rows=max_rows)
    train_invoices = int(np.count_nonzero(facts.inv_issue < cut))
    test = np.flatnonzero((facts.inv_issue >= cut) & (facts.inv_issue <= known_through.toordinal()))
    builder = FeatureBuilder(facts)
    moments = facts.inv_issue[test]
    x = builder.build(test, moments)
    predicted = training.predict(bundle, x)
    settled = facts.inv_settled[test]
    through = known_through.toordinal()
    known = settled <= through
    truth_days = (settled - facts.inv_issue[test]).astype(np.float64)
    terms = (facts.inv_due[test] - facts.inv_issue[test]).astype(np.float64)
    customer_mean = x[:, FEATURE_NAMES.index("hist_mean_days")]
    customer_mean = np.where(np.isnan(customer_mean), terms, customer_mean)
    mae = base_due = base_mean = coverage = None
    if known.any():
        mae = mean_absolute_error(truth_days[known], predicted.days[known])
        base_due = mean_absolute_error(truth_days[known], terms[known])
        base_mean = mean_absolute_error(truth_days[known], customer_mean[known])
        inside = (truth_days[known] >= np.floor(predicted.days_p10[known])) & (
            truth_days[known] <= np.ceil(predicted.days_p90[known])
        )
        coverage = float(inside.mean())
    # "Late" is decided once settled, or once the facts run past the due date with the invoice still open.
    due = facts.inv_due[test]
    decided = known | (through > due)
    late = (settled > due).astype(np.float64)
    auc = f1 = late_rate = None
    calibration: list[dict[str, Any]] = []
    if decided.any():
        truth = late[decided]
        p = predicted.p_late[decided]
        late_rate = float(truth.mean())
        if len(np.unique(truth)) == 2:
            auc = roc_auc_score(truth, p)
        f1 = f1_score(truth.astype(int), p >= bundle.late_threshold, zero_division=0)
        calibration = calibration_table(p, truth)
    return PaymentBacktest(
        cutoff=cutoff,
        known_through=known_through,
        train_invoices=train_invoices,
        test_invoices=len(test),
        test_settled=int(known.sum()),
        mae_days=_round(mae),
        baseline_due_date_mae=_round(base_due),
        baseline_customer_mean_mae=_round(base_mean),
        auc_late=_round(auc),
        f1_late=_round(f1),
        late_threshold=bundle.late_threshold,
        late_rate=_round(late_rate),
        interval_coverage=_round(coverage),
        calibration=calibration,
        validation=bundle.validation,
        config=bundle.config,
    )


def cash_share(facts: Facts, *, through: int) -> float:
    """The share of what settled invoices by `through` that came as cash (payments), not credit notes or
    write-offs: the forecast is of cash."""
    dated = facts.alloc_date <= through
    total = float(facts.alloc_amount[dated].sum())
    if total <= 0:
        return 1.0
    return float(np.clip(facts.alloc_amount[dated & facts.cash].sum() / total, 0.0, 1.0))


def open_predictions(facts: Facts, bundle: training.Bundle, *, as_of: dt.date) -> tuple[Any, Floats, Any]:
    """The invoices open at the end of `as_of`, their open amounts then, and their predictions as of it."""
    rows, amounts = facts.open_on(as_of.toordinal())
    x = FeatureBuilder(facts).build(rows, np.full(len(rows), as_of.toordinal()))
    return rows, amounts, training.predict(bundle, x)


def forecast_backtest(
    facts: Facts,
    *,
    cutoff: dt.date,
    known_through: dt.date,
    max_rows: int | None = None,
    bundle: training.Bundle | None = None,
    weeks: int = forecast.WEEKS,
) -> dict[str, Any]:
    """Train as of the day before `cutoff`, forecast the cash of the invoices open then week by week, and
    compare with the payments that were applied to them in each week."""
    as_of = cutoff - dt.timedelta(days=1)
    if bundle is None:
        bundle = training.fit(facts, known_through=as_of, max_rows=max_rows)
    rows, amounts, predicted = open_predictions(facts, bundle, as_of=as_of)
    share = cash_share(facts, through=as_of.toordinal())
    days = np.maximum(predicted.days, 1.0)
    forecast_weeks, later = forecast.weekly(
        as_of=as_of,
        amounts=amounts,
        days=days,
        p10=np.maximum(predicted.days_p10, 1.0),
        p90=np.maximum(predicted.days_p90, 1.0),
        cash_share=share,
        weeks=weeks,
    )
    # What arrived: the payments applied to those invoices, by the week of their date.
    index = np.full(len(facts), -1)
    index[rows] = np.arange(len(rows))
    chosen = (index[facts.alloc_invoice] >= 0) & facts.cash & (facts.alloc_date > as_of.toordinal())
    week = (facts.alloc_date[chosen] - as_of.toordinal() - 1) // 7
    actual = np.bincount(
        week[week < weeks], weights=facts.alloc_amount[chosen][week < weeks], minlength=weeks
    )
    complete = known_through >= forecast_weeks[-1].end
    table: list[dict[str, Any]] = []
    for k, w in enumerate(forecast_weeks):
        known = known_through >= w.end
        table.append(
            {
                "week": k + 1,
                "start": w.start.isoformat(),
                "end": w.end.isoformat(),
                "expected": round(w.expected, 2),
                "low": round(w.low, 2),
                "high": round(w.high, 2),
                "actual": round(float(actual[k]), 2) if known else None,
                "inside_band": bool(w.low <= actual[k] <= w.high) if known else None,
            }
        )
    known_weeks = [row for row in table if row["actual"] is not None]
    total_actual = sum(row["actual"] for row in known_weeks)
    total_expected = sum(row["expected"] for row in known_weeks)
    errors = sum(abs(row["actual"] - row["expected"]) for row in known_weeks)
    return {
        "cutoff": cutoff.isoformat(),
        "as_of": as_of.isoformat(),
        "open_invoices": len(rows),
        "open_amount": round(float(amounts.sum()), 2),
        "cash_share": round(share, 4),
        "weeks": table,
        "later_expected": round(later, 2),
        "complete": complete,
        "total_expected": round(total_expected, 2),
        "total_actual": round(total_actual, 2),
        "wape": round(errors / total_actual, 4) if total_actual > 0 else None,
        "band_coverage": (
            round(sum(1 for row in known_weeks if row["inside_band"]) / len(known_weeks), 4)
            if known_weeks
            else None
        ),
    }
