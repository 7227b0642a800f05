"""Every report exported to CSV, XLSX and PDF, from the hand-built ledger of test_snapshots.py (partial
payments, a credit note, a write-off, a reversal, EUR at three rates; today is 2026-04-15): each CSV parsed,
each XLSX opened with openpyxl down to its cells' values, types and number formats, each PDF read back with
pdftotext and rendered with pdftoppm to see its chart drawn; then the download views, their 400s and roles.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import subprocess
from decimal import Decimal

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook
from rest_framework.authtoken.models import Token

from recoup.core.tests.support import pdf_to_text
from recoup.disputes import services as disputes
from recoup.disputes.defaults import install_reasons
from recoup.ledger.models import Invoice
from recoup.reports import export_charts, exports
from recoup.reports.tests.test_snapshots import TODAY, make_ledger, make_people
from recoup.users.models import Role, User

pytestmark = pytest.mark.django_db
D = dt.date
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(autouse=True)
def today():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def ledger(books, settings):
    """test_snapshots.py's ledger, as of 2026-04-15."""
    return make_ledger(books, make_people(), settings)


def build(report: str, **query: str) -> exports.Export:
    return exports.build_export(report, query, user=None)


def parsed_csv(export: exports.Export) -> list[list[str]]:
    return list(csv.reader(io.StringIO(exports.to_csv(export).decode("utf-8"))))


def sheet_values(export: exports.Export, sheet: str) -> list[list[object]]:
    book = load_workbook(io.BytesIO(exports.to_xlsx(export)))
    return [list(row) for row in book[sheet].iter_rows(values_only=True)]


def workbook(export: exports.Export):
    return load_workbook(io.BytesIO(exports.to_xlsx(export)))


def pixels(pdf: bytes, color: tuple[int, int, int]) -> int:
    """How many pixels of the first page, rendered by poppler at 50 dpi, have exactly this colour."""
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm is not installed (apt-get install poppler-utils)")
    ppm = subprocess.run(
        ["pdftoppm", "-r", "50", "-f", "1", "-l", "1", "-"],
        input=pdf,
        capture_output=True,
        check=True,
    ).stdout
    # Binary PPM: "P6\n<width> <height>\n255\n", then RGB bytes.
    magic, size, depth, data = ppm.split(b"\n", 3)
    assert (magic, depth) == (b"P6", b"255")
    width, height = map(int, size.split())
    wanted = bytes(color)
    return sum(1 for i in range(0, width * height * 3, 3) if data[i : i + 3] == wanted)


def rgb(hex_color: str) -> tuple[int, int, int]:
    return tuple(int(hex_color[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


@pytest.fixture
def disputed(ledger, make_user):
    """A3's 120 USD under dispute since 03-10 (open); 100 EUR of E1 disputed 02-26, rejected 03-06."""
    install_reasons()
    boss = make_user(Role.MANAGER, "boss")
    disputes.dispute_open(
        actor=boss,
        invoice=Invoice.objects.get(external_id="A3"),
        reason="pricing",
        amount="120.00",
        opened_on=D(2026, 3, 10),
        owner=ledger["ann"],
    )
    rejected = disputes.dispute_open(
        actor=boss, invoice=ledger["e1"], reason="quantity", amount="100.00", opened_on=D(2026, 2, 26)
    )
    disputes.dispute_resolve(actor=boss, dispute=rejected, outcome="rejected", resolved_on=D(2026, 3, 6))
    return ledger


# Aging ---------------------------------------------------------------------------------------------------

AGING_ROWS = [
    ["Customer", "Name", "current", "1-30", "31-60", "61-90", "91-120", "120+", "Total"],
    ["ACME", "ACME Ltd", "0.00", "0.00", "800.00", "400.00", "0.00", "300.00", "1500.00"],
    ["EURO", "EURO Ltd", "0.00", "250.01", "875.00", "0.00", "0.00", "0.00", "1125.01"],
    ["MIX", "MIX Ltd", "50.00", "125.01", "0.00", "0.00", "0.00", "0.00", "175.01"],
    ["TOTAL", "Total", "50.00", "375.02", "1675.00", "400.00", "0.00", "300.00", "2800.02"],
]


def test_aging_by_customer_as_csv(ledger):
    export = build("aging", as_of="2026-03-31")

    assert export.filename == "aging-2026-03-31-by-customer"
    # GLOBEX's only invoice was written off in February: no row.
    assert parsed_csv(export) == AGING_ROWS


def test_aging_total_and_a_scope_as_csv(ledger):
    assert parsed_csv(build("aging", as_of="2026-03-31", by="total")) == [AGING_ROWS[0], AGING_ROWS[-1]]
    euro_customers = build("aging", as_of="2026-03-31", currency="eur")
    assert parsed_csv(euro_customers) == [
        AGING_ROWS[0],
        AGING_ROWS[2],
        ["TOTAL", "Total", "0.00", "250.01", "875.00", "0.00", "0.00", "0.00", "1125.01"],
    ]
    assert ("Customers", "customers in EUR") in euro_customers.facts


def test_aging_as_xlsx_has_numbers_with_formats_and_an_about_sheet(ledger):
    book = workbook(build("aging", as_of="2026-03-31", team=str(ledger["north"].pk)))

    assert book.sheetnames == ["Aging", "About"]
    sheet = book["Aging"]
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [
        AGING_ROWS[0],
        ["ACME", "ACME Ltd", 0, 0, 800, 400, 0, 300, 1500],
        ["TOTAL", "Total", 0, 0, 800, 400, 0, 300, 1500],
    ]
    acme = sheet[2]
    # Numbers, not text: each an "n" cell under the base currency's two decimals.
    assert [(c.data_type, c.number_format) for c in acme[2:]] == [("n", "#,##0.00")] * 7
    assert [c.data_type for c in acme[:2]] == ["s", "s"]
    assert sheet["A1"].font.bold and sheet["I3"].font.bold and not sheet["I2"].font.bold
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:I2"
    about = [[c.value for c in row] for row in book["About"].iter_rows()]
    assert about[:7] == [
        ["Aging as of 2026-03-31", None],
        ["As of", "2026-03-31 (end of day)"],
        ["Days past", "the due date"],
        ["Buckets", "current, 1-30, 31-60, 61-90, 91-120, 120+"],
        ["Customers", "team North"],
        ["Currency", "USD"],
        ["Rates", "none needed"],  # the team's customers hold no EUR
    ]
    assert about[7][0] == "Generated"


def test_aging_as_pdf_has_the_figures_and_a_drawn_chart(ledger):
    export = build("aging", as_of="2026-03-31")
    html = exports.to_html(export)
    pdf = exports.to_pdf(export)

    assert html.count("<svg") == 1 and html.count("<rect") == 5  # one bar per bucket holding AR
    assert "<script" not in html
    assert pdf[:5] == b"%PDF-"
    text = pdf_to_text(pdf)
    for figure in ("Aging as of 2026-03-31", "Recoup", "EUR 1.25 (2026-03-20)"):
        assert figure in text
    lines = [" ".join(line.split()) for line in text.splitlines()]
    assert "ACME ACME Ltd 0.00 0.00 800.00 400.00 0.00 300.00 1,500.00" in lines
    assert "EURO EURO Ltd 0.00 250.01 875.00 0.00 0.00 0.00 1,125.01" in lines
    assert "TOTAL Total 50.00 375.02 1,675.00 400.00 0.00 300.00 2,800.02" in lines
    # The chart's axis and bar labels are text in the PDF, its bars filled shapes in the bucket colours.
    assert "1.7k" in lines and "120+" in " ".join(lines)
    assert pixels(pdf, rgb(export_charts.BUCKET_COLORS[2])) > 200  # the 31-60 bar (1,675.00)
    assert pixels(pdf, rgb(export_charts.BUCKET_COLORS[4])) == 0  # 91-120 holds nothing: no bar


def test_a_pdf_of_many_customers_lists_the_largest_and_says_so(ledger, monkeypatch):
    monkeypatch.setattr(exports, "PDF_ROWS", 2)
    export = build("aging", as_of="2026-03-31")

    assert len(parsed_csv(export)) == 5  # every customer still, and the total
    text = " ".join(pdf_to_text(exports.to_pdf(export)).split())
    assert (
        "The 2 customers with the most open AR, largest first, of 3; the CSV and XLSX exports list every one."
        in text
    )
    assert text.index("ACME ACME Ltd") < text.index("EURO EURO Ltd")
    assert "MIX MIX Ltd" not in text
    assert "TOTAL Total 50.00 375.02 1,675.00 400.00 0.00 300.00 2,800.02" in text


# KPIs ----------------------------------------------------------------------------------------------------

# The first quarter of 2026 (90 days) of this ledger, by hand:
# - begin AR (end of 2025-12-31): A1 600 + A2 500 + A3 300 = 1400.00
# - credit sales, each at the rate of its issue date: G1 250 (01-01) + A4 800 (01-15) + E1 1000 EUR × 1.10
#   (01-20) + E2 200.01 and M1 100.01 EUR × 1.20 (02-15) = 360.024 + M2 50 (03-31) = 2560.024 → 2560.02
# - end AR 2800.02, of which current 50.00 (M2) and over 90 days 300.00 (A3, 151 days)
# - collected: A1 600 (01-10) + A4 800 (02-10, reversed later: still cash) + E1 300 EUR × 1.20 (02-25) = 1760
KPI_ROWS = [
    ["Key", "Figure", "Value", "Unit", "Definition"],
    ["begin_ar", "Begin AR", "1400.00", "USD", "open at the end of 2025-12-31"],
    ["credit_sales", "Credit sales", "2560.02", "USD", "invoices issued in the period"],
    ["end_ar", "End AR", "2800.02", "USD", "open at the end of 2026-03-31"],
    ["end_current_ar", "End current AR", "50.00", "USD", "of which not yet due"],
    ["end_over_90_ar", "AR over 90 days", "300.00", "USD", "of which over 90 days past due"],
    ["collected", "Collected", "1760.00", "USD", "payments received in the period"],
    ["dso", "DSO", "98.44", "days", "end AR ÷ credit sales × 90"],  # 98.4374…
    # March 50 (31 days) and February 360.02 (28) and January 2150 (31) leave 240 of December's 500: 14.88
    ["countback_dso", "Countback DSO", "104.88", "days",
     "end AR counted back over the monthly credit sales, newest first"],
    ["bpdso", "BPDSO", "1.76", "days", "end current AR ÷ credit sales × 90"],  # 1.7577…
    ["add", "ADD", "96.68", "days", "DSO − BPDSO"],  # 2750.02 ÷ 2560.02 × 90 = 96.6796…
    # (1400 + 2560.02 − 2800.02) ÷ (1400 + 2560.02 − 50) × 100 = 1160 ÷ 3910.02 × 100 = 29.6673…
    ["cei", "CEI", "29.67", "%",
     "(begin AR + sales − end AR) ÷ (begin AR + sales − end current AR) × 100, not divided by months"],
    ["pct_current", "% current", "1.79", "%", "end current AR ÷ end AR × 100"],  # 1.7857…
    ["pct_over_90", "% over 90 days", "10.71", "%", "AR over 90 days past due ÷ end AR × 100"],  # 10.7142…
]  # fmt: skip


def test_kpis_as_csv(ledger):
    export = build("kpis", **{"from": "2026-01-01", "to": "2026-03-31"})

    assert export.filename == "kpis-2026-01-01-to-2026-03-31"
    assert parsed_csv(export) == KPI_ROWS


def test_kpis_as_xlsx_keep_each_figure_in_its_kind(ledger):
    export = build("kpis", **{"from": "2026-01-01", "to": "2026-03-31"})
    book = workbook(export)

    assert book.sheetnames == ["KPIs", "Collections by week", "About"]
    figures = book["KPIs"]
    values = {row[0].value: (row[2].value, row[2].number_format) for row in figures.iter_rows(min_row=2)}
    assert values == {
        "begin_ar": (1400, "#,##0.00"),
        "credit_sales": (2560.02, "#,##0.00"),
        "end_ar": (2800.02, "#,##0.00"),
        "end_current_ar": (50, "#,##0.00"),
        "end_over_90_ar": (300, "#,##0.00"),
        "collected": (1760, "#,##0.00"),
        "dso": (98.44, "0.00"),
        "countback_dso": (104.88, "0.00"),
        "bpdso": (1.76, "0.00"),
        "add": (96.68, "0.00"),
        "cei": (0.2967, "0.00%"),  # a fraction under a % format: Excel shows 29.67%
        "pct_current": (0.0179, "0.00%"),
        "pct_over_90": (0.1071, "0.00%"),
    }
    weeks = [[c.value for c in row] for row in book["Collections by week"].iter_rows()]
    assert weeks[0] == ["Week", "From", "To", "Collected"]
    assert len(weeks) == 1 + 14 + 1  # W01 (from Thursday 01-01) to W14 (to Tuesday 03-31), and the total
    assert weeks[1] == ["2026-W01", dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 4), 0]
    assert weeks[2] == ["2026-W02", dt.datetime(2026, 1, 5), dt.datetime(2026, 1, 11), 600]
    assert weeks[7][0::3] == ["2026-W07", 800] and weeks[9][0::3] == ["2026-W09", 360]
    assert weeks[-1] == ["Total", dt.datetime(2026, 1, 1), dt.datetime(2026, 3, 31), 1760]
    from_cell = book["Collections by week"]["B2"]
    assert from_cell.is_date and from_cell.number_format == "yyyy-mm-dd"


def test_kpis_as_pdf(ledger):
    export = build("kpis", **{"from": "2026-01-01", "to": "2026-03-31"})
    html = exports.to_html(export)
    pdf = exports.to_pdf(export)

    assert html.count("<svg") == 1 and html.count("<rect") == 3  # the three weeks with payments
    lines = [" ".join(line.split()) for line in pdf_to_text(pdf).splitlines()]
    for expected in (
        "KPIs from 2026-01-01 to 2026-03-31",
        "Begin AR 1,400.00 USD open at the end of 2025-12-31",
        "DSO 98.44 days end AR ÷ credit sales × 90",
        "Countback DSO 104.88 days end AR counted back over the monthly credit sales, newest first",
        "Total 2026-01-01 2026-03-31 1,760.00",
    ):
        assert expected in lines, expected
    assert not any(line.startswith("begin_ar") for line in lines)  # the machine keys stay in CSV and XLSX
    assert pixels(pdf, rgb(export_charts.BAR_COLOR)) > 100


# Disputes ------------------------------------------------------------------------------------------------


def test_dispute_figures_in_every_format(disputed):
    export = build("disputes", as_of="2026-03-31")

    # Resolved in 2026-01-01…03-31: E1's, 8 days (02-26 → 03-06), within its 10-day SLA. Open on 03-31: A3's
    # (21 days old). Overdue AR 2800.02 − 50.00 = 2750.02, of which A3's 120.00 disputed: 4.3636… %.
    assert parsed_csv(export) == [
        ["Key", "Figure", "Value", "Unit"],
        ["resolved", "Disputes resolved in the period", "1", ""],
        ["cycle_time_mean_days", "Cycle time, mean", "8.00", "days"],
        ["cycle_time_median_days", "Cycle time, median", "8.00", "days"],
        ["sla_hit_rate", "Resolved within the SLA", "100.00", "%"],
        ["open", "Open on 2026-03-31", "1", ""],
        ["overdue_ar", "AR past due", "2750.02", "USD"],
        ["overdue_disputed", "of which under dispute", "120.00", "USD"],
        ["overdue_disputed_share", "Disputed share of AR past due", "4.36", "%"],
    ]
    book = workbook(export)
    assert book.sheetnames == ["Disputes", "Open by reason", "Open by age", "About"]
    assert [[c.value for c in row] for row in book["Open by reason"].iter_rows()] == [
        ["Reason", "Open disputes"],
        ["Pricing", 1],
        ["Total", 1],
    ]
    assert [[c.value for c in row] for row in book["Open by age"].iter_rows()] == [
        ["Age", "Open disputes"],
        ["0–7 days", 0],
        ["8–30 days", 1],
        ["31–60 days", 0],
        ["over 60 days", 0],
        ["Total", 1],
    ]
    assert book["Open by age"]["B3"].number_format == "#,##0"
    shares = {
        row[0].value: (row[2].value, row[2].number_format) for row in book["Disputes"].iter_rows(min_row=2)
    }
    assert shares["sla_hit_rate"] == (1, "0.00%") and shares["overdue_disputed_share"] == (0.0436, "0.00%")
    assert shares["resolved"] == (1, "#,##0") and shares["overdue_ar"] == (2750.02, "#,##0.00")

    pdf = exports.to_pdf(export)
    text = " ".join(pdf_to_text(pdf).split())
    assert "Disputes as of 2026-03-31" in text
    assert "Disputed share of AR past due 4.36 %" in text and "AR past due 2,750.02 USD" in text
    assert "8–30 days 1" in text
    assert "<svg" in exports.to_html(export)
    assert pixels(pdf, rgb(export_charts.BAR_COLOR)) > 50  # the one bar, 8–30 days


def test_dispute_figures_of_some_customers(disputed):
    export = build("disputes", as_of="2026-03-31", currency="EUR")

    # Euro's only: E1's dispute resolved, none open; its overdue AR (1,125.01 as aging says) not disputed.
    assert parsed_csv(export)[1:] == [
        ["resolved", "Disputes resolved in the period", "1", ""],
        ["cycle_time_mean_days", "Cycle time, mean", "8.00", "days"],
        ["cycle_time_median_days", "Cycle time, median", "8.00", "days"],
        ["sla_hit_rate", "Resolved within the SLA", "100.00", "%"],
        ["open", "Open on 2026-03-31", "0", ""],
        ["overdue_ar", "AR past due", "1125.01", "USD"],
        ["overdue_disputed", "of which under dispute", "0.00", "USD"],
        ["overdue_disputed_share", "Disputed share of AR past due", "0.00", "%"],
    ]
    assert dict(export.facts)["Customers"] == "customers in EUR"


# The aging trend -----------------------------------------------------------------------------------------


def test_the_aging_trend_in_every_format(ledger):
    export = build("aging-trend", months="4", through="2026-03-31")

    assert export.filename == "aging-trend-2025-12-31-to-2026-03-31"
    header = ["Month-end", "current", "1-30", "31-60", "61-90", "91-120", "120+", "Total", "Open invoices"]
    assert parsed_csv(export) == [
        [*header, "Stored on"],
        ["2025-12-31", "500.00", "600.00", "0.00", "300.00", "0.00", "0.00", "1400.00", "3", "2026-04-15"],
        ["2026-01-31", "2150.00", "500.00", "0.00", "0.00", "300.00", "0.00", "2950.00", "5", "2026-04-15"],
        ["2026-02-28", "360.02", "840.00", "400.00", "0.00", "300.00", "0.00", "1900.02", "5", "2026-04-15"],
        [
            "2026-03-31",
            "50.00",
            "375.02",
            "1675.00",
            "400.00",
            "0.00",
            "300.00",
            "2800.02",
            "7",
            "2026-04-15",
        ],
    ]
    sheet = workbook(export)["Aging trend"]
    [first] = sheet.iter_rows(min_row=2, max_row=2)
    assert [c.value for c in first] == [
        dt.datetime(2025, 12, 31),
        500,
        600,
        0,
        300,
        0,
        0,
        1400,
        3,
        dt.datetime(2026, 4, 15),
    ]
    assert [c.number_format for c in first] == ["yyyy-mm-dd", *["#,##0.00"] * 7, "#,##0", "yyyy-mm-dd"]
    assert first[0].is_date and isinstance(first[8].value, int)
    assert export.facts[-1] == (
        "Rates",
        "2025-12-31: none needed; 2026-01-31: EUR 1.1 (2025-12-01); 2026-02-28: EUR 1.2 (2026-02-01); "
        "2026-03-31: EUR 1.25 (2026-03-20)",
    )

    html = exports.to_html(export)
    pdf = exports.to_pdf(export)
    assert html.count("<svg") == 1 and 'class="landscape"' in html
    lines = [" ".join(line.split()) for line in pdf_to_text(pdf).splitlines()]
    assert "2026-03-31 50.00 375.02 1,675.00 400.00 0.00 300.00 2,800.02 7 2026-04-15" in lines
    # Stacked: the current (green) and 120+ (dark red) parts of the bars are both drawn.
    assert pixels(pdf, rgb(export_charts.BUCKET_COLORS[0])) > 100
    assert pixels(pdf, rgb(export_charts.BUCKET_COLORS[5])) > 20


# The download views --------------------------------------------------------------------------------------


@pytest.fixture
def reader(db):
    client = Client()
    client.force_login(User.objects.create_user("vera", role=Role.VIEWER))
    return client


def url(report: str, fmt: str) -> str:
    return reverse("report-export", kwargs={"report": report, "fmt": fmt})


def assert_downloads(reader, report: str, query: str, name: str, csv_start: bytes = b"") -> None:
    """The report downloads in each format as an attachment named `name`, each starting as its kind does."""
    for fmt, content_type, magic in (
        ("csv", "text/csv; charset=utf-8", csv_start),
        ("xlsx", XLSX, b"PK\x03\x04"),
        ("pdf", "application/pdf", b"%PDF-"),
    ):
        response = reader.get(url(report, fmt) + query)
        assert response.status_code == 200, (report, fmt, response.content[:200])
        assert response["Content-Type"] == content_type
        assert response["Content-Disposition"] == f'attachment; filename="{name}.{fmt}"'
        assert response.content.startswith(magic)


def test_every_report_downloads_in_every_format_as_an_attachment(ledger, disputed, reader):
    cases = {
        "aging": ("?as_of=2026-03-31&by=customer", "aging-2026-03-31-by-customer"),
        "kpis": ("?from=2026-01-01&to=2026-03-31", "kpis-2026-01-01-to-2026-03-31"),
        "disputes": ("?as_of=2026-03-31", "disputes-2026-03-31"),
        "aging-trend": ("?months=3&through=2026-03-31", "aging-trend-2026-01-31-to-2026-03-31"),
        "collectors": ("?from=2026-01-01&to=2026-03-31", "collectors-2026-01-01-to-2026-03-31"),
        "reminders": ("?from=2026-01-01&to=2026-03-31", "reminders-2026-01-01-to-2026-03-31"),
    }
    assert url("aging-trend", "xlsx") == "/reports/export/aging-trend.xlsx"
    for report, (query, name) in cases.items():
        assert_downloads(reader, report, query, name)
    aging = reader.get(url("aging", "csv") + cases["aging"][0])
    assert list(csv.reader(io.StringIO(aging.content.decode()))) == AGING_ROWS


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("aging.csv?as_of=2026-02-30", "as_of: '2026-02-30' is not a date (expected YYYY-MM-DD)."),
        ("aging.csv?as_of=1899-12-31", "as_of: Choose a date from 1900-01-01 on."),
        ("aging.pdf?by=region", "by: 'region' is not one of customer, total."),
        ("aging.xlsx?buckets=60,30",
         "buckets: bucket bounds must be positive and strictly increasing, not [60, 30]"),
        ("aging.csv?collector=abc", "collector: 'abc' is not an id."),
        ("aging.csv?team=999", "team: There is no team 999."),
        ("aging.csv?currency=EURO", "currency: 'EURO' is not an ISO 4217 currency code"),
        ("kpis.csv?to=2026-03-31", "from: This parameter is required: a date, YYYY-MM-DD."),
        ("kpis.csv?from=2026-03-01&to=2026-02-01", "from: The period ends before it starts."),
        ("kpis.pdf?from=2026-01-01&to=2027-06-01", "to: Choose a date no later than 2027-04-16."),
        ("aging-trend.csv?months=37", "months: '37' is not a whole number from 1 to 36."),
        ("aging-trend.csv?through=2026-05-02",
         "through: The month ending 2026-04-30 has not closed yet (today is 2026-04-15)."),
        ("collectors.csv?from=2026-03-10&to=2026-03-01", "from: The period ends before it starts."),
        ("collectors.xlsx?to=2026-02-30", "to: '2026-02-30' is not a date (expected YYYY-MM-DD)."),
        ("collectors.pdf?from=yesterday", "from: 'yesterday' is not a date (expected YYYY-MM-DD)."),
        ("collectors.csv?team=999", "team: There is no team 999."),
        ("reminders.csv?from=2026-04-01&to=2026-03-05", "from: The period ends before it starts."),
        ("reminders.pdf?from=2026-13-01", "from: '2026-13-01' is not a date (expected YYYY-MM-DD)."),
        ("reminders.csv?currency=EURO", "currency: 'EURO' is not an ISO 4217 currency code"),
    ],
)  # fmt: skip
def test_bad_parameters_are_a_400_that_names_them(ledger, reader, path, message):
    response = reader.get("/reports/export/" + path)

    assert (response.status_code, response["Content-Type"]) == (400, "text/plain; charset=utf-8")
    assert response.content.decode() == message
    assert "Content-Disposition" not in response


def test_a_missing_fx_rate_is_a_400_naming_the_currency(ledger, reader):
    response = reader.get(url("aging", "csv") + "?as_of=2025-11-30")  # nothing in EUR open yet: fine
    assert response.status_code == 200
    Invoice.objects.filter(external_id="A3").update(currency="GBP")
    refused = reader.get(url("aging", "csv") + "?as_of=2026-03-31")
    assert (refused.status_code, refused.content.decode()) == (
        400,
        "as_of: No GBP→USD rate is dated on or before 2026-03-31.",
    )


def test_unknown_reports_and_formats_are_not_found(ledger, reader):
    assert reader.get("/reports/export/ledger.csv").status_code == 404
    assert reader.get("/reports/export/aging.docx").status_code == 404


def test_every_role_may_download_and_strangers_are_sent_to_sign_in(ledger):
    for role in Role.values:
        client = Client()
        client.force_login(User.objects.create_user(f"user-{role}", role=role))
        response = client.get(url("aging", "csv") + "?as_of=2026-03-31&by=total")
        assert response.status_code == 200, role
    anonymous = Client().get(url("aging", "csv"))
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    inactive = User.objects.create_user("left", role=Role.MANAGER, is_active=False)
    client = Client()
    client.force_login(inactive)
    assert client.get(url("aging", "csv")).status_code == 302  # an inactive user's session signs nobody in


def test_an_api_token_downloads_too(ledger):
    user = User.objects.create_user("script", role=Role.VIEWER)
    token = Token.objects.create(user=user)
    client = Client()

    response = client.get(url("aging", "csv") + "?as_of=2026-03-31", HTTP_AUTHORIZATION=f"Token {token.key}")
    refused = client.get(url("aging", "csv"), HTTP_AUTHORIZATION="Token not-a-token")

    assert response.status_code == 200
    assert list(csv.reader(io.StringIO(response.content.decode()))) == AGING_ROWS
    assert (refused.status_code, refused.content.decode()) == (401, "Invalid token.")


# The charts on their own ---------------------------------------------------------------------------------


def test_charts_are_svg_with_escaped_labels_and_a_nice_axis():
    svg = export_charts.bar_chart(["<b>", "B & C"], [Decimal("1200"), 300], title="T <1>", unit="USD")

    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"') and svg.endswith("</svg>")
    assert "&lt;b&gt;" in svg and "B &amp; C" in svg and "<title>T &lt;1&gt;</title>" in svg
    assert svg.count("<rect") == 2
    assert ">2k<" in svg and ">1.5k<" in svg  # the axis runs to 2000 in quarters
    assert export_charts.nice_ceiling(2800.02) == 5000 and export_charts.nice_ceiling(0) == 1
    assert export_charts.short_number(2_500_000) == "2.5M"
    counts = export_charts.bar_chart(["a", "b"], [0, 1], title="n", integers=True)
    assert ">4<" in counts and ">0.25<" not in counts
