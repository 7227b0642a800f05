"""recoup insights train [--through DATE] | score [--as-of DATE] | backtest --cutoff DATE [--forecast]
[--format table|json] | forecast [--weeks N] [--format table|csv|json]"""

from __future__ import annotations

import argparse
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recoup.core.cli import date_argument
from recoup.core.errors import DomainError
from recoup.insights import selectors, services
from recoup.insights.models import BacktestKind


def _weeks(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of weeks") from exc
    if not 1 <= value <= 52:
        raise argparse.ArgumentTypeError("weeks must be from 1 to 52")
    return value


class Command(BaseCommand):
    help = "Payment predictions, priority scores, the cash forecast and their backtests (docs/insights.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        train = actions.add_parser("train", help="fit a new model version on the ledger's history")
        train.add_argument(
            "--through", type=date_argument, default=None, help="last day of facts; default today"
        )
        score = actions.add_parser("score", help="predict every open invoice and rank every customer")
        score.add_argument("--as-of", type=date_argument, default=None, help="YYYY-MM-DD; default today")
        backtest = actions.add_parser("backtest", help="train before a cutoff, predict after it, report")
        backtest.add_argument("--cutoff", type=date_argument, required=True, help="YYYY-MM-DD")
        backtest.add_argument(
            "--forecast", action="store_true", help="also backtest the 13-week cash forecast"
        )
        backtest.add_argument("--format", choices=("table", "json"), default="table")
        forecast = actions.add_parser("forecast", help="expected collections per week, from the predictions")
        forecast.add_argument("--weeks", type=_weeks, default=13)
        forecast.add_argument("--format", choices=("table", "csv", "json"), default="table")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            getattr(self, f"_{action}")(**options)
        except DomainError as refused:
            raise CommandError(refused.message) from None

    def _train(self, *, through: Any, **_: Any) -> None:
        model = services.model_train(actor=None, through=through)
        chosen = model.metrics.get("chosen", {})
        self.stdout.write(
            f"Model v{model.version} trained on {model.invoices:,} invoices "
            f"({model.settled_invoices:,} settled, {model.moments:,} moments) "
            f"issued {model.train_from} to {model.trained_through}, "
            f"in {model.seconds:.1f} s. Validation: {json.dumps(chosen) if chosen else model.metrics}"
        )

    def _score(self, *, as_of: Any, **_: Any) -> None:
        summary = services.scores_refresh(actor=None, as_of=as_of)
        how = (
            f"model v{summary.model_version}"
            if summary.model_version
            else "the baseline (no model trained yet)"
        )
        self.stdout.write(
            f"Scored {summary.invoices:,} open invoices of {summary.customers:,} customers "
            f"as of {summary.as_of} with {how} in {summary.seconds:.1f} s."
        )

    def _backtest(self, *, cutoff: Any, forecast: bool, format: str, **_: Any) -> None:
        runs = services.backtest_run(actor=None, cutoff=cutoff, forecast=forecast)
        payments = next(r.results for r in runs if r.kind == BacktestKind.PAYMENTS)
        forecast_result = next((r.results for r in runs if r.kind == BacktestKind.FORECAST), None)
        if format == "json":
            data = dict(payments)
            if forecast_result is not None:
                data["forecast"] = forecast_result
            self.stdout.write(json.dumps(data, indent=2))
            return
        lines = [
            f"Backtest at {payments['cutoff']}: trained on {payments['train_invoices']:,} invoices issued "
            f"before it, tested on {payments['test_invoices']:,} issued from it on "
            f"({payments['test_settled']:,} settled).",
            f"{'MAE, days to settle':<36} {_show(payments['mae_days'])}",
            f"{'  baseline: the due date':<36} {_show(payments['baseline_due_date_mae'])}",
            f"{'  baseline: the customer average':<36} {_show(payments['baseline_customer_mean_mae'])}",
            f"{'ROC AUC, late':<36} {_show(payments['auc_late'])}",
            f"{'F1, late (threshold ' + str(payments['late_threshold']) + ')':<36} "
            f"{_show(payments['f1_late'])}",
            f"{'Share late':<36} {_show(payments['late_rate'])}",
            f"{'10–90 % interval holds':<36} {_show(payments['interval_coverage_p10_p90'])}",
            "",
            "Calibration of P(late), by decile:",
            f"{'decile':>6} {'count':>6} {'predicted':>10} {'observed':>9}",
        ]
        for row in payments["calibration"]:
            lines.append(
                f"{row['decile']:>6} {row['count']:>6} {_show(row['mean_predicted']):>10} "
                f"{_show(row['observed_late']):>9}"
            )
        if forecast_result is not None:
            lines += [
                "",
                f"Cash forecast made on {forecast_result['as_of']} for the "
                f"{forecast_result['open_invoices']:,} invoices open then: "
                f"WAPE {_show(forecast_result['wape'])}, "
                f"weeks inside the 80 % band {_show(forecast_result['band_coverage'])}",
                f"{'week':>4} {'start':>10} {'expected':>12} {'low':>12} {'high':>12} {'actual':>12}",
            ]
            for w in forecast_result["weeks"]:
                lines.append(
                    f"{w['week']:>4} {w['start']:>10} {w['expected']:>12,.2f} {w['low']:>12,.2f} "
                    f"{w['high']:>12,.2f} {_money(w['actual']):>12}"
                )
        self.stdout.write("\n".join(lines))

    def _forecast(self, *, weeks: int, format: str, **_: Any) -> None:
        result = selectors.cash_forecast(weeks=weeks)
        if format == "json":
            self.stdout.write(json.dumps(result.as_dict(), indent=2))
            return
        if format == "csv":
            self.stdout.write(selectors.forecast_as_csv(result), ending="")
            return
        lines = [
            f"Expected collections in {result.currency} of the {result.invoices:,} invoices open on "
            f"{result.as_of} ({result.open_amount:,} {result.currency}; "
            f"cash share {result.cash_share:.0%}), 80 % band:",
            f"{'week':>4} {'start':>10} {'end':>10} {'expected':>14} {'low':>14} {'high':>14}",
        ]
        for w in result.weeks:
            lines.append(f"{w.week:>4} {w.start} {w.end} {w.expected:>14,} {w.low:>14,} {w.high:>14,}")
        lines.append(f"{'later':>4} {'':>21} {result.later:>14,}")
        self.stdout.write("\n".join(lines))


def _money(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.3f}"
    return str(value)
