"""Every report as a file: CSV, XLSX (openpyxl) and PDF (WeasyPrint) (docs/reports.md, "Exports").

Each report is read from its query string (`Params`: every refusal a DomainError naming the parameter) and
built into an `Export` (recoup.reports.export_formats), which the writers of that module lay out. The figures
come from the reports themselves (aging_report, selectors.kpis and collections, dispute_metrics,
snapshots.month_end_totals, collectors.collector_activity, effectiveness.reminder_effectiveness), never from a
computation of their own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone

from recoup.core.errors import DomainError
from recoup.core.money import MoneyError, normalize_currency
from recoup.disputes.rules import SCOPED_ROLES
from recoup.disputes.selectors import dispute_metrics
from recoup.dunning.models import Channel
from recoup.ledger.aging import BASES, GROUPINGS, aging_report
from recoup.ledger.rules import DEFAULT_BUCKETS, BucketError, parse_buckets
from recoup.ledger.selectors import RateUsed
from recoup.reports import dashboard, export_charts, rules, selectors, snapshots
from recoup.reports.collectors import CollectorActivity, collector_activity
from recoup.reports.effectiveness import Tally, reminder_effectiveness
from recoup.reports.export_formats import Cell, Column, Export, Kind, Table, to_csv, to_html, to_pdf, to_xlsx
from recoup.reports.scope import Scope
from recoup.users.models import Team, User

__all__ = [
    "FORMATS",
    "REPORTS",
    "Export",
    "build_export",
    "error_text",
    "render",
    "to_csv",
    "to_html",
    "to_pdf",
]

FORMATS: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
EARLIEST = rules.EARLIEST_DATE
AHEAD_DAYS = 366  # how far past today a date may be, as in the API
MAX_BUCKETS = 24
PDF_ROWS = 200  # a PDF of aging by customer lists the customers with the most AR; CSV and XLSX list all
TREND_MONTHS = 12
WEEKLY_UP_TO_DAYS = 98  # the KPI export's collections are per ISO week up to 14 weeks, else per month
ROUNDED = "Day figures and percentages are rounded half-up to 2 decimals; n/a where a denominator is zero."


# Parameters -----------------------------------------------------------------------------------------------


class Params:
    """The query string of an export, read field by field; every refusal is a DomainError naming it."""

    def __init__(self, query: Mapping[str, str]) -> None:
        self.query = query
        self.today = timezone.localdate()

    def text(self, name: str) -> str:
        return str(self.query.get(name, "") or "").strip()

    def date(self, name: str, default: dt.date | None = None) -> dt.date:
        text = self.text(name)
        if not text:
            if default is None:
                raise DomainError("This parameter is required: a date, YYYY-MM-DD.", field=name)
            return default
        try:
            value = dt.date.fromisoformat(text)
        except ValueError:
            raise DomainError(f"{text!r} is not a date (expected YYYY-MM-DD).", field=name) from None
        latest = self.today + dt.timedelta(days=AHEAD_DAYS)
        if value < EARLIEST:
            raise DomainError(f"Choose a date from {EARLIEST} on.", field=name)
        if value > latest:
            raise DomainError(f"Choose a date no later than {latest}.", field=name)
        return value

    def period(
        self, end: dt.date | None = None, start: Callable[[dt.date], dt.date] | None = None
    ) -> tuple[dt.date, dt.date]:
        """`from` and `to`, both days included: without `to`, `end`; without `from`, `start(to)` (each
        required when its default is None). A period that ends before it starts is refused naming `from`."""
        if start is None:
            first, last = self.date("from"), self.date("to", end)
        else:
            last = self.date("to", end)
            first = self.date("from", start(last))
        if first > last:
            raise DomainError("The period ends before it starts.", field="from")
        return first, last

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.text(name) or default
        if value not in choices:
            raise DomainError(f"{value!r} is not one of {', '.join(choices)}.", field=name)
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        text = self.text(name)
        if not text:
            return default
        if not text.isdigit() or not low <= int(text) <= high:
            raise DomainError(f"{text!r} is not a whole number from {low} to {high}.", field=name)
        return int(text)

    def scope(self) -> tuple[Scope, str]:
        """The filter bar's customers (Scope), and how the export names them."""
        said: list[str] = []
        collector_id = self._id("collector")
        if collector_id is not None:
            user = User.objects.filter(pk=collector_id).first()
            if user is None:
                raise DomainError(f"There is no user {collector_id}.", field="collector")
            said.append(f"collector {user.username}")
        team_id = self._id("team")
        if team_id is not None:
            team = Team.objects.filter(pk=team_id).first()
            if team is None:
                raise DomainError(f"There is no team {team_id}.", field="team")
            said.append(f"team {team.name}")
        currency = self.text("currency")
        if currency:
            try:
                currency = normalize_currency(currency)
            except MoneyError as exc:
                raise DomainError(str(exc), field="currency") from None
            said.append(f"customers in {currency}")
        segment = self.text("segment")[:64]
        if segment:
            said.append(f"segment {segment}")
        scope = Scope(collector_id=collector_id, team_id=team_id, currency=currency, segment=segment)
        return scope, ", ".join(said) or "all customers"

    def _id(self, name: str) -> int | None:
        text = self.text(name)
        if not text:
            return None
        if not text.isdigit():
            raise DomainError(f"{text!r} is not an id.", field=name)
        return int(text)


# The reports ----------------------------------------------------------------------------------------------


def aging_export(params: Params) -> Export:
    """Aging as of a date, by customer or the total, by due or invoice date, in the base currency."""
    as_of = params.date("as_of", params.today)
    by = params.choice("by", GROUPINGS, "customer")
    basis = params.choice("basis", tuple(BASES), "due")
    try:
        bounds = parse_buckets(params.text("buckets") or DEFAULT_BUCKETS)
    except BucketError as exc:
        raise DomainError(str(exc), field="buckets") from None
    if len(bounds) > MAX_BUCKETS:
        raise DomainError(f"At most {MAX_BUCKETS} bucket bounds, not {len(bounds)}.", field="buckets")
    scope, covered = params.scope()
    report = aging_report(as_of=as_of, by=by, basis=basis, buckets=bounds, customer_ids=scope.customer_ids())
    money_columns = tuple(Column(label, Kind.MONEY) for label in report.labels)
    rows: list[tuple[Any, ...]] = [(r.key, r.name, *r.buckets, r.total) for r in report.rows]
    total = (report.total.key, report.total.name, *report.total.buckets, report.total.total)
    largest = None
    note = ""
    if len(rows) > PDF_ROWS:
        largest = sorted(rows, key=lambda row: (-Decimal(row[-1]), row[0]))[:PDF_ROWS]
        note = (
            f"The {PDF_ROWS} customers with the most open AR, largest first, of {len(rows):,}; "
            "the CSV and XLSX exports list every one. The total is all customers'."
        )
    table = Table(
        "Aging",
        (Column("Customer"), Column("Name"), *money_columns, Column("Total", Kind.MONEY)),
        rows,
        total,
        pdf_rows=largest,
        pdf_note=note,
    )
    chart = export_charts.bar_chart(
        report.labels,
        report.total.buckets,
        title=f"Open AR by days past the {basis} date, {report.currency}",
        unit=report.currency,
        colors=export_charts.BUCKET_COLORS,
    )
    return Export(
        report="aging",
        title=f"Aging as of {as_of}",
        filename=f"aging-{as_of}-by-{by}",
        currency=report.currency,
        facts=(
            ("As of", f"{as_of} (end of day)"),
            ("Days past", "the due date" if basis == "due" else "the invoice date"),
            ("Buckets", ", ".join(report.labels)),
            ("Customers", covered),
            ("Currency", report.currency),
            ("Rates", _rates_text(report.rates)),
        ),
        tables=(table,),
        chart=chart,
        notes=(
            "Open amount = amount − the allocations dated on or before the as-of date; unapplied cash and "
            "credit notes are customer credit, not netted here.",
            "Each customer's sum per currency and bucket is converted at the latest rate dated on or before "
            "the as-of date and rounded to the base currency's minor unit.",
        ),
    )


def kpi_export(params: Params) -> Export:
    """The KPIs of a period, with the collections of its weeks (or months) behind the chart."""
    start, end = params.period()
    scope, covered = params.scope()
    ids = scope.customer_ids()
    report = selectors.kpis(start=start, end=end, customer_ids=ids)
    by = "week" if report.days <= WEEKLY_UP_TO_DAYS else "month"
    points = selectors.collections(start=start, end=end, by=by, customer_ids=ids)
    c = report.currency
    days = report.days

    def money(key: str, name: str, value: Decimal, definition: str) -> tuple[Any, ...]:
        return (key, name, Cell(value, Kind.MONEY), c, definition)

    def measure(key: str, name: str, value: Decimal | None, kind: Kind, definition: str) -> tuple[Any, ...]:
        return (key, name, Cell(_rounded(value), kind), "days" if kind == Kind.DAYS else "%", definition)

    before = start - dt.timedelta(days=1)
    rows = [
        money("begin_ar", "Begin AR", report.begin_ar, f"open at the end of {before}"),
        money("credit_sales", "Credit sales", report.credit_sales, "invoices issued in the period"),
        money("end_ar", "End AR", report.end_ar, f"open at the end of {end}"),
        money("end_current_ar", "End current AR", report.end_current_ar, "of which not yet due"),
        money("end_over_90_ar", "AR over 90 days", report.end_over_90_ar, "of which over 90 days past due"),
        money("collected", "Collected", report.collected, "payments received in the period"),
        measure("dso", "DSO", report.dso, Kind.DAYS, f"end AR ÷ credit sales × {days}"),
        measure(
            "countback_dso",
            "Countback DSO",
            report.countback_dso,
            Kind.DAYS,
            "end AR counted back over the monthly credit sales, newest first",
        ),
        measure("bpdso", "BPDSO", report.bpdso, Kind.DAYS, f"end current AR ÷ credit sales × {days}"),
        measure("add", "ADD", report.add, Kind.DAYS, "DSO − BPDSO"),
        measure(
            "cei",
            "CEI",
            report.cei,
            Kind.PERCENT,
            "(begin AR + sales − end AR) ÷ (begin AR + sales − end current AR) × 100, not divided by months",
        ),
        measure(
            "pct_current", "% current", report.pct_current, Kind.PERCENT, "end current AR ÷ end AR × 100"
        ),
        measure(
            "pct_over_90",
            "% over 90 days",
            report.pct_over_90,
            Kind.PERCENT,
            "AR over 90 days past due ÷ end AR × 100",
        ),
    ]
    figures = Table(
        "KPIs",
        (Column("Key", pdf=False), Column("Figure"), Column("Value"), Column("Unit"), Column("Definition")),
        rows,
    )
    series = Table(
        f"Collections by {by}",
        (
            Column(by.capitalize()),
            Column("From", Kind.DATE),
            Column("To", Kind.DATE),
            Column("Collected", Kind.MONEY),
        ),
        [(p.label, p.start, p.end, p.amount) for p in points],
        ("Total", start, end, report.collected),
    )
    chart = export_charts.bar_chart(
        [p.label if by == "month" else p.label.split("-")[-1] for p in points],
        [p.amount for p in points],
        title=f"Collected per {by}, {c}",
        unit=c,
    )
    return Export(
        report="kpis",
        title=f"KPIs from {start} to {end}",
        filename=f"kpis-{start}-to-{end}",
        currency=c,
        facts=_period_facts(
            start,
            end,
            covered,
            c,
            f"begin AR {_rates_text(report.begin_rates)}; end AR {_rates_text(report.end_rates)}",
        ),
        tables=(figures, series),
        chart=chart,
        notes=(
            ROUNDED,
            "CEI uses the period's figures as they are: it is not divided by a number of months.",
        ),
    )


def disputes_export(params: Params, user: Any) -> Export:
    """The dispute figures: cycle time and SLA hit rate of a period, the disputes open on a date."""
    as_of = params.date("as_of", params.today)
    start = params.date("from") if params.text("from") else None
    end = params.date("to") if params.text("to") else None
    scope, covered = params.scope()
    metrics = dispute_metrics(as_of=as_of, start=start, end=end, user=user, customer_ids=scope.customer_ids())
    c = metrics.currency

    def share(value: float | None) -> Cell:
        return Cell(None if value is None else Decimal(str(value)), Kind.PERCENT)

    def days(value: float | None) -> Cell:
        return Cell(None if value is None else Decimal(str(value)), Kind.DAYS)

    rows = [
        ("resolved", "Disputes resolved in the period", Cell(metrics.cycle.resolved, Kind.COUNT), ""),
        ("cycle_time_mean_days", "Cycle time, mean", days(metrics.cycle.mean_days), "days"),
        ("cycle_time_median_days", "Cycle time, median", days(metrics.cycle.median_days), "days"),
        ("sla_hit_rate", "Resolved within the SLA", share(metrics.sla_hit_rate), "%"),
        ("open", f"Open on {as_of}", Cell(metrics.open_count, Kind.COUNT), ""),
        ("overdue_ar", "AR past due", Cell(metrics.overdue_ar, Kind.MONEY), c),
        ("overdue_disputed", "of which under dispute", Cell(metrics.overdue_disputed, Kind.MONEY), c),
        (
            "overdue_disputed_share",
            "Disputed share of AR past due",
            share(metrics.overdue_disputed_share),
            "%",
        ),
    ]
    figures = Table(
        "Disputes", (Column("Key", pdf=False), Column("Figure"), Column("Value"), Column("Unit")), rows
    )
    by_reason = Table(
        "Open by reason",
        (Column("Reason"), Column("Open disputes", Kind.COUNT)),
        list(metrics.open_by_reason.items()),
        ("Total", metrics.open_count),
    )
    by_age = Table(
        "Open by age",
        (Column("Age"), Column("Open disputes", Kind.COUNT)),
        list(metrics.open_by_age.items()),
        ("Total", metrics.open_count),
    )
    chart = export_charts.bar_chart(
        list(metrics.open_by_age),
        list(metrics.open_by_age.values()),
        title="Open disputes by age",
        unit="disputes",
        integers=True,
    )
    return Export(
        report="disputes",
        title=f"Disputes as of {as_of}",
        filename=f"disputes-{as_of}",
        currency=c,
        facts=(
            ("As of", f"{as_of}"),
            ("Resolved in", f"{metrics.start} to {metrics.end}"),
            ("Disputes", "those you may see" if getattr(user, "role", "") in SCOPED_ROLES else "all"),
            ("Customers", covered),
            ("Currency", c),
        ),
        tables=(figures, by_reason, by_age),
        chart=chart,
        notes=("Cycle time = resolved − opened, in days, over the disputes resolved in the period.",),
    )


def trend_export(params: Params) -> Export:
    """The aging of the last N month-ends (12 by default), from the stored snapshots."""
    months = params.integer("months", TREND_MONTHS, 1, snapshots.DEFAULT_MONTHS)
    through = params.date("through", params.today - dt.timedelta(days=1))
    scope, covered = params.scope()
    try:
        ends = snapshots.closed_month_ends(months, through=through)
    except DomainError as exc:
        raise DomainError(exc.message, field="through") from None
    trend = snapshots.month_end_totals(ends, scope)
    base = settings.BASE_CURRENCY
    rows = [
        (m.month_end, *m.buckets, m.total, m.open_invoices, timezone.localtime(m.built_at).date())
        for m in trend
    ]
    table = Table(
        "Aging trend",
        (
            Column("Month-end", Kind.DATE),
            *(Column(label, Kind.MONEY) for label in snapshots.LABELS),
            Column("Total", Kind.MONEY),
            Column("Open invoices", Kind.COUNT),
            Column("Stored on", Kind.DATE),
        ),
        rows,
    )
    chart = export_charts.stacked_bar_chart(
        [f"{m.month_end:%Y-%m}" for m in trend],
        [(label, [m.buckets[i] for m in trend]) for i, label in enumerate(snapshots.LABELS)],
        title=f"Open AR at each month-end by days past due, {base}",
        unit=base,
    )
    rates = _rates_by_month_end([(m.month_end, m.rates) for m in trend])
    return Export(
        report="aging-trend",
        title=f"Aging at the month-ends {ends[0]:%Y-%m} to {ends[-1]:%Y-%m}",
        filename=f"aging-trend-{ends[0]}-to-{ends[-1]}",
        currency=base,
        facts=(
            ("Month-ends", f"{len(ends)}, {ends[0]} to {ends[-1]}"),
            ("Customers", covered),
            ("Currency", base),
            ("Rates", rates),
        ),
        tables=(table,),
        chart=chart,
        notes=(
            "Each month-end is its stored snapshot: the close as reported on the day it was stored "
            "(`recoup reports snapshots` rebuilds them from the ledger).",
            "The collector and segment of each customer are those of the day the snapshot was stored.",
        ),
    )


def collector_period(params: Params) -> tuple[dt.date, dt.date]:
    """The period of a collector activity: by default `to` is today and `from` the first day of `to`'s month,
    the month to date (the dashboard's table reads its period so too)."""
    return params.period(params.today, start=lambda end: end.replace(day=1))


def collectors_export(params: Params) -> Export:
    """Each collector's activity over a period: what their customers paid, their touches and promises, and
    their customers' DSO, from collectors.collector_activity."""
    start, end = collector_period(params)
    scope, covered = params.scope()
    report = collector_activity(start=start, end=end, scope=scope)
    c = report.currency

    def line(row: CollectorActivity) -> tuple[Any, ...]:
        return (
            row.name,
            row.username,
            row.customers,
            row.collected,
            row.calls,
            row.notes,
            row.emails,
            row.touches,
            row.promises,
            row.kept.due,
            row.kept.kept,
            _rounded(row.kept_rate),
            row.credit_sales,
            row.end_ar,
            _rounded(row.dso),
        )

    counts = ("Calls", "Notes", "Emails", "Touches", "Promises made", "Came due", "Kept")
    table = Table(
        "Collector activity",
        (
            Column("Collector"),
            Column("Username", pdf=False),
            Column("Customers", Kind.COUNT),
            Column("Collected", Kind.MONEY),
            *(Column(title, Kind.COUNT) for title in counts),
            Column("Kept rate", Kind.PERCENT),
            Column("Credit sales", Kind.MONEY),
            Column("End AR", Kind.MONEY),
            Column("DSO", Kind.DAYS),
        ),
        [line(row) for row in report.rows],
        line(report.total),
    )
    chart = export_charts.bar_chart(
        [row.name for row in report.rows],
        [row.collected for row in report.rows],
        title=f"Collected per collector, {c}",
        unit=c,
    )
    return Export(
        report="collectors",
        title=f"Collector activity from {start} to {end}",
        filename=f"collectors-{start}-to-{end}",
        currency=c,
        facts=_period_facts(start, end, covered, c, f"end AR {_rates_text(report.end_rates)}"),
        tables=(table,),
        chart=chart,
        notes=(
            "A row is a person; the customers, collected, sales, end AR and DSO of a collector are those of "
            'the customers they collect today. "No collector" holds what no one is credited with.',
            "Touches = calls made + notes written + emails sent by hand, each on a day of the period; "
            "dunning's automatic reminders are nobody's touch.",
            "Promises made: those made in the period, cancelled ones left out. Kept rate = kept ÷ came due "
            "× 100, over the promises whose promised date falls in the period (partly kept: came due, not "
            "kept).",
            f"DSO = end AR ÷ credit sales × {report.days} days, over the collector's customers.",
            ROUNDED,
        ),
    )


def reminders_export(params: Params) -> Export:
    """Reminder effectiveness: the share of dunning sends followed by a payment within 7 days, by level and
    by channel, from effectiveness.reminder_effectiveness. By default the dashboard's window; a `to` without
    `from` keeps its length."""
    first, last = dashboard.reminder_window(params.today)
    start, end = params.period(last, start=lambda to: to - (last - first))
    scope, covered = params.scope()
    report = reminder_effectiveness(start=start, end=end, customer_ids=scope.customer_ids())
    within = f"Paid within {report.days} days"

    def tallies(title: str, key: str, rows: list[tuple[str, Tally]]) -> Table:
        return Table(
            title,
            (
                Column(key),
                Column("Sends", Kind.COUNT),
                Column(within, Kind.COUNT),
                Column("Share", Kind.PERCENT),
            ),
            [(name, t.sends, t.effective, t.share) for name, t in rows],
            ("Total", report.overall.sends, report.overall.effective, report.overall.share),
        )

    by_level = tallies("By level", "Level", list(report.by_level.items()))
    by_channel = tallies(
        "By channel", "Channel", [(Channel(channel).label, t) for channel, t in report.by_channel.items()]
    )
    chart = export_charts.bar_chart(
        list(report.by_level),
        [t.share or 0 for t in report.by_level.values()],
        title=f"Share of sends paid within {report.days} days, by level",
        unit="%",
    )
    return Export(
        report="reminders",
        title=f"Reminder effectiveness from {start} to {end}",
        filename=f"reminders-{start}-to-{end}",
        currency=settings.BASE_CURRENCY,
        facts=(
            ("Sends dated", _period_text(start, end)),
            ("Payment within", f"{report.days} days of the send day, both included"),
            ("Customers", covered),
        ),
        tables=(by_level, by_channel),
        chart=chart,
        notes=(
            "A send is a dunning message sent on any channel (an email, a letter, a call task once sent), "
            "dated by its send day in the company's time zone; emails a person sent by hand are not "
            "reminders.",
            f"A send is effective when an invoice it listed received a payment dated from its send day to "
            f"{report.days} days later, both included: a positive payment allocation, not reversed.",
            "Share = effective sends ÷ sends × 100, rounded half-up to 2 decimals; n/a without sends.",
        ),
    )


BUILDERS: dict[str, Callable[[Params, Any], Export]] = {
    "aging": lambda params, user: aging_export(params),
    "kpis": lambda params, user: kpi_export(params),
    "disputes": disputes_export,
    "aging-trend": lambda params, user: trend_export(params),
    "collectors": lambda params, user: collectors_export(params),
    "reminders": lambda params, user: reminders_export(params),
}
REPORTS = tuple(BUILDERS)


def build_export(report: str, query: Mapping[str, str], *, user: Any = None) -> Export:
    if report not in BUILDERS:
        raise DomainError(
            f"There is no report {report!r}; choose one of {', '.join(REPORTS)}.", field="report"
        )
    return BUILDERS[report](Params(query), user)


def render(export: Export, fmt: str) -> bytes:
    writers: dict[str, Callable[[Export], bytes]] = {"csv": to_csv, "xlsx": to_xlsx, "pdf": to_pdf}
    return writers[fmt](export)


def _rounded(value: Decimal | None) -> Decimal | None:
    """A day figure or a percentage as the reports show it: rules.round_figure's 2 decimals (None: n/a)."""
    shown = rules.round_figure(value)
    return None if shown is None else Decimal(str(shown))


def _period_text(start: dt.date, end: dt.date) -> str:
    return f"{start} to {end} ({rules.period_days(start, end)} days, both included)"


def _period_facts(
    start: dt.date, end: dt.date, covered: str, currency: str, ar_rates: str
) -> tuple[tuple[str, str], ...]:
    """The facts of a report over a period: its days, customers, currency and the rates its AR used (sales
    and collections take the rate of each document's date)."""
    return (
        ("Period", _period_text(start, end)),
        ("Customers", covered),
        ("Currency", currency),
        ("Rates", f"{ar_rates}; sales and collections at the rate of each document's date"),
    )


def _rates_text(rates: tuple[RateUsed, ...] | list[RateUsed]) -> str:
    return ", ".join(f"{r.currency} {r.rate.normalize():f} ({r.date})" for r in rates) or "none needed"


def _rates_by_month_end(rates: list[tuple[dt.date, tuple[RateUsed, ...]]]) -> str:
    """Each run of month-ends converted at the same rates, once: "EUR 1.08 (2020-01-01) at every month-end"
    or "2026-01-31 to 2026-02-28: EUR 1.1 (2025-12-01); 2026-03-31: EUR 1.25 (2026-03-20)"."""
    runs: list[tuple[dt.date, dt.date, str]] = []
    for end, used in rates:
        text = _rates_text(used)
        if runs and runs[-1][2] == text:
            runs[-1] = (runs[-1][0], end, text)
        else:
            runs.append((end, end, text))
    if len(runs) == 1:
        return f"{runs[0][2]} at every month-end"
    return "; ".join(f"{a}{f' to {b}' if b != a else ''}: {text}" for a, b, text in runs)


def error_text(exc: DomainError) -> str:
    """A refusal as one line for a person: "as_of: '2026-02-30' is not a date (expected YYYY-MM-DD)."."""
    return f"{exc.field}: {exc.message}" if exc.field else exc.message
