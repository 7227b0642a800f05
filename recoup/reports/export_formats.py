"""The three file formats of the report exports, and what they lay out (docs/reports.md, "Exports").

An `Export` describes a report: its title, the facts that qualify it (the date, the currency, the FX rates
used, the customers covered), one or more tables of typed values, and its chart as SVG. The writers only lay
that out:
- CSV: the first table, a header line then one line per row, amounts as plain decimals at the base
  currency's minor unit, dates as YYYY-MM-DD, percentages as numbers (12.50);
- XLSX: a sheet per table with numbers as numbers (number formats per kind, percentages as fractions under a
  % format), dates as dates, a frozen header and a filter, then an "About" sheet with the facts;
- PDF: a Django template (reports/pdf/report.html) with the chart inline as SVG
  (recoup.reports.export_charts), so the PDF needs no JavaScript.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe

from recoup.core.money import minor_units


class Kind(StrEnum):
    TEXT = "text"
    MONEY = "money"  # in the export's currency
    COUNT = "count"
    DAYS = "days"
    PERCENT = "percent"  # 12.5 means 12.5 %
    DATE = "date"


@dataclass(frozen=True)
class Column:
    title: str
    kind: Kind = Kind.TEXT
    pdf: bool = True  # the machine keys of a figure list are for CSV and XLSX only


@dataclass(frozen=True)
class Cell:
    """A value of another kind than its column's: a KPI's value is an amount, days or a percentage."""

    value: Any
    kind: Kind


@dataclass(frozen=True)
class Table:
    title: str  # the XLSX sheet's name too: at most 31 characters
    columns: tuple[Column, ...]
    rows: list[tuple[Any, ...]]
    total: tuple[Any, ...] | None = None
    # What the PDF lists instead of `rows` when they are too many to print, and says so.
    pdf_rows: list[tuple[Any, ...]] | None = None
    pdf_note: str = ""


@dataclass(frozen=True)
class Export:
    report: str
    title: str
    filename: str  # without the extension: letters, digits and hyphens only
    currency: str
    facts: tuple[tuple[str, str], ...]
    tables: tuple[Table, ...]  # the first one is the CSV's
    chart: str = ""  # SVG markup
    notes: tuple[str, ...] = ()
    generated_at: dt.datetime = field(default_factory=timezone.now)

    @property
    def landscape(self) -> bool:
        """Whether the PDF turns its pages: a table of more than seven columns needs the width."""
        return any(sum(c.pdf for c in table.columns) > 7 for table in self.tables)


# CSV ------------------------------------------------------------------------------------------------------


def to_csv(export: Export) -> bytes:
    """The first table: a header line, then one line per row (and its total)."""
    table = export.tables[0]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([column.title for column in table.columns])
    places = minor_units(export.currency)
    for row in (*table.rows, *([table.total] if table.total else [])):
        writer.writerow(
            [_csv_value(value, column.kind, places) for value, column in zip(row, table.columns, strict=True)]
        )
    return out.getvalue().encode("utf-8")


def _csv_value(value: Any, kind: Kind, places: int) -> str:
    if isinstance(value, Cell):
        value, kind = value.value, value.kind
    if value is None:
        return ""
    if kind == Kind.MONEY:
        return f"{Decimal(value):.{places}f}"
    if kind in (Kind.DAYS, Kind.PERCENT):
        return f"{Decimal(value):.2f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


# XLSX -----------------------------------------------------------------------------------------------------


def _number_format(kind: Kind, places: int) -> str | None:
    money = "#,##0" + ("." + "0" * places if places else "")
    return {
        Kind.MONEY: money,
        Kind.COUNT: "#,##0",
        Kind.DAYS: "0.00",
        Kind.PERCENT: "0.00%",
        Kind.DATE: "yyyy-mm-dd",
    }.get(kind)


def to_xlsx(export: Export) -> bytes:
    """A sheet per table (write-only: a 100k-row aging streams), then "About" with the facts."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    places = minor_units(export.currency)
    book = Workbook(write_only=True)
    bold = Font(bold=True)
    for table in export.tables:
        sheet = book.create_sheet(table.title[:31])
        widths = [
            max(len(column.title) + 2, 12 if column.kind != Kind.TEXT else 14) for column in table.columns
        ]
        for n, width in enumerate(widths, start=1):
            sheet.column_dimensions[_column_letter(n)].width = min(width, 60)
        sheet.freeze_panes = "A2"
        last = _column_letter(len(table.columns))
        sheet.auto_filter.ref = f"A1:{last}{len(table.rows) + 1}"

        def cell(value: Any, kind: Kind, *, strong: bool = False, sheet: Any = sheet) -> Any:
            if isinstance(value, Cell):
                value, kind = value.value, value.kind
            if kind == Kind.PERCENT and value is not None:
                value = Decimal(value) / 100
            c = WriteOnlyCell(sheet, value=value)
            number_format = _number_format(kind, places)
            if number_format and value is not None:
                c.number_format = number_format
            if strong:
                c.font = bold
            return c

        sheet.append([cell(column.title, Kind.TEXT, strong=True) for column in table.columns])
        for row in table.rows:
            sheet.append([cell(v, col.kind) for v, col in zip(row, table.columns, strict=True)])
        if table.total:
            sheet.append(
                [cell(v, col.kind, strong=True) for v, col in zip(table.total, table.columns, strict=True)]
            )
    about = book.create_sheet("About")
    about.column_dimensions["A"].width = 16
    about.column_dimensions["B"].width = 100
    about.append([WriteOnlyCell(about, value=export.title)])
    for label, value in (
        *export.facts,
        ("Generated", timezone.localtime(export.generated_at).strftime("%Y-%m-%d %H:%M %Z")),
    ):
        about.append([label, value])
    for note in export.notes:
        about.append(["Note", note])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _column_letter(n: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(n)


# PDF ------------------------------------------------------------------------------------------------------


def _display(value: Any, kind: Kind, places: int) -> tuple[str, str]:
    """The text of a value in the PDF and its cell's class (numbers align right)."""
    if isinstance(value, Cell):
        value, kind = value.value, value.kind
    if value is None:
        return ("n/a" if kind in (Kind.DAYS, Kind.PERCENT) else "", "num")
    if kind == Kind.MONEY:
        amount = Decimal(value)
        text = f"{abs(amount):,.{places}f}"
        return (f"\u2212{text}" if amount < 0 else text, "num")
    if kind == Kind.COUNT:
        return f"{int(value):,}", "num"
    if kind in (Kind.DAYS, Kind.PERCENT):  # the unit is in the column's title or the row's unit
        return f"{Decimal(value):,.2f}", "num"
    if isinstance(value, dt.date):
        return value.isoformat(), "date"
    return str(value), "text"


def to_html(export: Export) -> str:
    """The PDF's page as HTML: the facts, the chart (inline SVG), every table."""
    places = minor_units(export.currency)
    tables = []
    for table in export.tables:
        shown = table.pdf_rows if table.pdf_rows is not None else table.rows
        keep = [n for n, column in enumerate(table.columns) if column.pdf]

        def line(row: tuple[Any, ...], table: Table = table, keep: list[int] = keep) -> list[tuple[str, str]]:
            return [_display(row[n], table.columns[n].kind, places) for n in keep]

        tables.append(
            {
                "title": table.title,
                "note": table.pdf_note,
                "headers": [
                    (table.columns[n].title, "text" if table.columns[n].kind == Kind.TEXT else "num")
                    for n in keep
                ],
                "rows": [line(row) for row in shown],
                "total": line(table.total) if table.total else None,
            }
        )
    return render_to_string(
        "reports/pdf/report.html",
        {
            "export": export,
            "company_name": settings.RECOUP_COMPANY_NAME,
            "chart": mark_safe(export.chart),  # built by export_charts, which escapes every text it draws
            "tables": tables,
            "generated": timezone.localtime(export.generated_at).strftime("%Y-%m-%d %H:%M %Z"),
        },
    )


def to_pdf(export: Export) -> bytes:
    from weasyprint import HTML  # imported here: 0.8 s at start-up, and only PDF exports need it

    pdf: bytes = HTML(string=to_html(export)).write_pdf(
        font_config=_font_config(), stylesheets=[_stylesheet()]
    )
    return pdf


@functools.cache
def _stylesheet() -> Any:
    from weasyprint import CSS

    return CSS(string=render_to_string("reports/pdf/report.css"), font_config=_font_config())


@functools.cache
def _font_config() -> Any:
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()
