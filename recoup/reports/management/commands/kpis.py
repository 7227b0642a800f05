from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recoup.core.cli import date_argument
from recoup.core.errors import DomainError
from recoup.reports.selectors import KpiReport, kpis


class Command(BaseCommand):
    help = (
        "KPIs of a period in the base currency: DSO, countback DSO, BPDSO, ADD, CEI, % current, % over 90 "
        "days and the amount collected (docs/reports.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from", dest="start", type=date_argument, required=True, help="first day, YYYY-MM-DD"
        )
        parser.add_argument(
            "--to", dest="end", type=date_argument, required=True, help="last day, YYYY-MM-DD"
        )
        parser.add_argument("--format", choices=["table", "json"], default="table")

    def handle(self, *args: Any, start: dt.date, end: dt.date, format: str, **options: Any) -> None:
        try:
            report = kpis(start=start, end=end)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        if format == "json":
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
        else:
            self.stdout.write(report_as_table(report))


def report_as_table(report: KpiReport) -> str:
    """The figures one a line, each with its unit and what it is; `n/a` where a denominator is zero."""
    figures = report.as_dict()
    days = report.days
    currency = report.currency

    def amount(key: str) -> tuple[str, str]:
        return f"{Decimal(figures[key]):,}", currency

    def figure(key: str, unit: str) -> tuple[str, str]:
        value = figures[key]
        return ("n/a", "") if value is None else (f"{value:,.2f}", unit)

    months = report.countback_months
    counted_back = ""
    if months and figures["countback_dso"] is not None:
        counted_back = f", {months[0].start:%Y-%m} back to {months[-1].start:%Y-%m}"
    rows = [
        ("begin AR", *amount("begin_ar"), f"open at the end of {report.start - dt.timedelta(days=1)}"),
        ("credit sales", *amount("credit_sales"), "invoices issued in the period"),
        ("end AR", *amount("end_ar"), f"open at the end of {report.end}"),
        ("end current AR", *amount("end_current_ar"), "of which not yet due"),
        ("collected", *amount("collected"), "payments received in the period"),
        None,
        ("DSO", *figure("dso", "days"), f"end AR ÷ credit sales × {days}"),
        (
            "countback DSO",
            *figure("countback_dso", "days"),
            f"end AR counted back over monthly sales{counted_back}",
        ),
        ("BPDSO", *figure("bpdso", "days"), f"end current AR ÷ credit sales × {days}"),
        ("ADD", *figure("add", "days"), "DSO − BPDSO"),
        (
            "CEI",
            *figure("cei", "%"),
            "(begin AR + sales − end AR) ÷ (begin AR + sales − end current AR) × 100, not divided by months",
        ),
        ("% current", *figure("pct_current", "%"), "end current AR ÷ end AR × 100"),
        ("% over 90 days", *figure("pct_over_90", "%"), "AR over 90 days past due ÷ end AR × 100"),
    ]
    present = [row for row in rows if row is not None]
    widths = [max(len(row[i]) for row in present) for i in range(3)]
    lines = [
        f"KPIs from {report.start} to {report.end} ({days} days), in {currency}",
        _rates_note(report),
        "",
    ]
    for row in rows:
        if row is None:
            lines.append("")
            continue
        label, value, unit, note = row
        lines.append(f"{label.ljust(widths[0])}  {value.rjust(widths[1])} {unit.ljust(widths[2])}  {note}")
    return "\n".join(lines)


def _rates_note(report: KpiReport) -> str:
    def listed(rates: tuple[Any, ...]) -> str:
        return ", ".join(f"{r.currency} {r.rate} ({r.date})" for r in rates) or "none needed"

    return (
        f"Rates: begin AR {listed(report.begin_rates)}; end AR {listed(report.end_rates)}; "
        "sales and collections at the rate of each document's date."
    )
