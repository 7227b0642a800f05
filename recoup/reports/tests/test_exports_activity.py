"""The collector activity and reminder effectiveness exports, in CSV, XLSX and PDF, and their downloads.

Collector activity is read from test_collectors.py's ledger (its `world`, February 2026 worked out by hand in
that module's docstring; today is Monday 2026-03-16, TIME_ZONE Europe/Berlin); reminder effectiveness from
test_effectiveness.py's real dunning runs of 03-05, 03-17 and 04-01 (its `ledger`, here `reminded`).
"""

from __future__ import annotations

import csv
import datetime as dt

import pytest
import time_machine

from recoup.core.tests.support import pdf_to_text
from recoup.ledger.models import Customer, FxRate
from recoup.reports import dashboard, exports
from recoup.reports.scope import Scope
from recoup.reports.tests import test_collectors, test_effectiveness, test_exports
from recoup.reports.tests.test_exports import assert_downloads, build, parsed_csv, url, workbook

pytestmark = pytest.mark.django_db
# The fixtures borrowed, which pytest finds under these names.
clock = test_collectors.clock  # autouse: today is 2026-03-16 (12:00 UTC), TIME_ZONE Europe/Berlin
world = test_collectors.world
reminded = test_effectiveness.ledger
reader = test_exports.reader
FEB = {"from": "2026-02-01", "to": "2026-02-28"}
REMINDED = {"from": "2026-03-05", "to": "2026-04-01"}  # the three runs


def rows(*lines: str) -> list[list[str]]:
    """CSV lines as csv.reader parses them."""
    return list(csv.reader(lines))


def lines_of(pdf: bytes) -> list[str]:
    return [" ".join(line.split()) for line in pdf_to_text(pdf).splitlines()]


# Collector activity --------------------------------------------------------------------------------------

HEADER = (
    "Collector,Username,Customers,Collected,Calls,Notes,Emails,Touches,Promises made,Came due,Kept,Kept rate,"
    "Credit sales,End AR,DSO"
)
# Kept rate 2 ÷ 3 × 100 = 66.666…; DSO 2180 ÷ 620 × 28 = 98.4516…; Mia made no sale and was due no promise:
# both empty, never 0. The total is the scope's: 2 kept of 5 came due, 2680 ÷ 1120 × 28 = 67.
FEB_ROWS = rows(
    HEADER,
    "Cara Cole,cara,2,640.00,3,1,1,5,3,3,2,66.67,620.00,2180.00,98.45",
    "Dave Diaz,dave,1,500.00,1,2,0,3,1,1,0,0.00,300.00,300.00,28.00",
    "mia,mia,0,0.00,0,1,0,1,0,0,0,,0.00,0.00,",
    "No collector,,1,80.00,1,0,0,1,1,1,0,0.00,200.00,200.00,28.00",
    "Total,,4,1220.00,5,4,1,10,5,5,2,40.00,1120.00,2680.00,67.00",
)


def test_collector_activity_as_csv(world):
    export = build("collectors", **FEB)

    assert export.filename == "collectors-2026-02-01-to-2026-02-28"
    assert export.title == "Collector activity from 2026-02-01 to 2026-02-28"
    assert parsed_csv(export) == FEB_ROWS


def test_collector_activity_as_xlsx_keeps_each_figure_in_its_kind(world):
    book = workbook(build("collectors", **FEB))

    assert book.sheetnames == ["Collector activity", "About"]
    sheet = book["Collector activity"]
    assert [c.value for c in sheet[1]] == HEADER.split(",")
    cara, mia = sheet[2], sheet[4]
    assert [(c.value, c.number_format) for c in (cara[2], cara[3], cara[7], cara[11], cara[14])] == [
        (2, "#,##0"),  # customers
        (640, "#,##0.00"),  # collected
        (5, "#,##0"),  # touches
        (0.6667, "0.00%"),  # the kept rate as a fraction: Excel shows 66.67%
        (98.45, "0.00"),  # DSO, days
    ]
    assert [c.value for c in mia[11:]] == [None, 0, 0, None]
    total = [c.value for c in sheet[6]]
    assert total == ["Total", None, 4, 1220, 5, 4, 1, 10, 5, 5, 2, 0.4, 1120, 2680, 67]
    assert sheet["A6"].font.bold and not sheet["A5"].font.bold
    about = [[c.value for c in row] for row in book["About"].iter_rows()]
    assert about[:5] == [
        ["Collector activity from 2026-02-01 to 2026-02-28", None],
        ["Period", "2026-02-01 to 2026-02-28 (28 days, both included)"],
        ["Customers", "all customers"],
        ["Currency", "USD"],
        ["Rates", "end AR EUR 1.2 (2026-02-15); sales and collections at the rate of each document's date"],
    ]
    assert about[5][0] == "Generated"
    notes = [value for label, value in about[6:] if label == "Note"]
    assert notes[1] == (
        "Touches = calls made + notes written + emails sent by hand, each on a day of the period; "
        "dunning's automatic reminders are nobody's touch."
    )
    assert notes[3] == "DSO = end AR ÷ credit sales × 28 days, over the collector's customers."


def test_collector_activity_as_pdf(world):
    export = build("collectors", **FEB)
    html = exports.to_html(export)
    lines = lines_of(exports.to_pdf(export))

    # Bars for Cara (640), Dave (500) and no one (80); Mia's 0.00 draws none.
    assert html.count("<svg") == 1 and html.count("<rect") == 3 and 'class="landscape"' in html
    assert "Collected per collector, USD" in html
    for expected in (
        "Collector activity from 2026-02-01 to 2026-02-28",
        "Cara Cole 2 640.00 3 1 1 5 3 3 2 66.67 620.00 2,180.00 98.45",  # no username: CSV and XLSX only
        "mia 0 0.00 0 1 0 1 0 0 0 n/a 0.00 0.00 n/a",
        "No collector 1 80.00 1 0 0 1 1 1 0 0.00 200.00 200.00 28.00",
        "Total 4 1,220.00 5 4 1 10 5 5 2 40.00 1,120.00 2,680.00 67.00",
    ):
        assert expected in lines, expected


def test_collector_activity_defaults_to_the_month_to_date(world):
    export = build("collectors")

    # In March to today (the 16th): A1's 300 on 03-02; Cara's call of 03-01 00:30 in Berlin; Dave's note.
    assert export.filename == "collectors-2026-03-01-to-2026-03-16"
    assert ("Period", "2026-03-01 to 2026-03-16 (16 days, both included)") in export.facts
    assert [row[:4] + row[7:8] for row in parsed_csv(export)[1:]] == [
        ["Cara Cole", "cara", "2", "300.00", "1"],
        ["Dave Diaz", "dave", "1", "0.00", "1"],
        ["No collector", "", "1", "0.00", "0"],
        ["Total", "", "4", "300.00", "2"],
    ]
    # A `to` alone starts on the first day of its own month, as the dashboard's table does.
    assert build("collectors", to="2026-02-28").filename == "collectors-2026-02-01-to-2026-02-28"
    assert parsed_csv(build("collectors", to="2026-02-28")) == FEB_ROWS


def test_collector_activity_of_a_team(world):
    export = build("collectors", **FEB, team=str(world["north"].pk))

    # Cara's customers only: her call on Dave's BOLT and the no-collector row fall away; Mia's note on ACME
    # stays, as Mia's.
    assert parsed_csv(export) == rows(
        HEADER,
        "Cara Cole,cara,2,640.00,2,1,1,4,3,3,2,66.67,620.00,2180.00,98.45",
        "mia,mia,0,0.00,0,1,0,1,0,0,0,,0.00,0.00,",
        "Total,,2,640.00,2,2,1,5,3,3,2,66.67,620.00,2180.00,98.45",
    )
    assert ("Customers", "team North") in export.facts


# Reminder effectiveness ----------------------------------------------------------------------------------

# test_effectiveness.py's figures: A (day 7), E (one of two invoices), D (second reminder), C's call and
# email (day 7) were paid in time; B (day 8), C's first (reversed) and F (paid before) were not.
LEVEL_ROWS = [
    ["Level", "Sends", "Paid within 7 days", "Share"],
    ["Reminder", "6", "2", "33.33"],
    ["Second reminder", "4", "1", "25.00"],
    ["Call", "6", "2", "33.33"],
    ["Total", "16", "5", "31.25"],
]


def test_reminder_effectiveness_as_csv(reminded):
    export = build("reminders", **REMINDED)

    assert export.filename == "reminders-2026-03-05-to-2026-04-01"
    assert export.title == "Reminder effectiveness from 2026-03-05 to 2026-04-01"
    assert parsed_csv(export) == LEVEL_ROWS


def test_reminder_effectiveness_as_xlsx(reminded):
    book = workbook(build("reminders", **REMINDED))

    assert book.sheetnames == ["By level", "By channel", "About"]
    assert [[c.value for c in row] for row in book["By level"].iter_rows()] == [
        LEVEL_ROWS[0],
        ["Reminder", 6, 2, 0.3333],
        ["Second reminder", 4, 1, 0.25],
        ["Call", 6, 2, 0.3333],
        ["Total", 16, 5, 0.3125],
    ]
    channels = book["By channel"]
    assert [[c.value for c in row] for row in channels.iter_rows()] == [
        ["Channel", "Sends", "Paid within 7 days", "Share"],
        ["Email", 13, 4, 0.3077],
        ["Letter (PDF)", 0, 0, None],  # no sends: no share, never 0
        ["Call task", 3, 1, 0.3333],
        ["Total", 16, 5, 0.3125],
    ]
    assert [(c.number_format, c.data_type) for c in channels[2][1:]] == [
        ("#,##0", "n"),
        ("#,##0", "n"),
        ("0.00%", "n"),
    ]
    about = [[c.value for c in row] for row in book["About"].iter_rows()]
    assert about[:4] == [
        ["Reminder effectiveness from 2026-03-05 to 2026-04-01", None],
        ["Sends dated", "2026-03-05 to 2026-04-01 (28 days, both included)"],
        ["Payment within", "7 days of the send day, both included"],
        ["Customers", "all customers"],
    ]
    notes = [value for label, value in about if label == "Note"]
    assert notes[1] == (
        "A send is effective when an invoice it listed received a payment dated from its send day to 7 days "
        "later, both included: a positive payment allocation, not reversed."
    )


def test_reminder_effectiveness_as_pdf(reminded):
    export = build("reminders", **REMINDED)
    html = exports.to_html(export)
    lines = lines_of(exports.to_pdf(export))

    assert html.count("<svg") == 1 and html.count("<rect") == 3  # a bar per level
    assert "Share of sends paid within 7 days, by level" in html
    for expected in (
        "Reminder effectiveness from 2026-03-05 to 2026-04-01",
        "Reminder 6 2 33.33",
        "Second reminder 4 1 25.00",
        "Email 13 4 30.77",
        "Letter (PDF) 0 0 n/a",
        "Total 16 5 31.25",
    ):
        assert expected in lines, expected


def test_reminder_effectiveness_defaults_to_the_dashboards_window(reminded):
    with time_machine.travel(dt.datetime(2026, 4, 8, 12, 0, tzinfo=dt.UTC), tick=False):
        export = build("reminders")
        figure = dashboard.reminder_figures(Scope(), dt.date(2026, 4, 8))
        # The 90 days that ended a week ago: 2026-01-02 to 04-01, the three runs.
        assert export.filename == "reminders-2026-01-02-to-2026-04-01"
        assert figure["period"] == {"from": "2026-01-02", "to": "2026-04-01"}
        assert parsed_csv(export) == LEVEL_ROWS
        assert figure["sends"] == 16 and figure["effective"] == 5
        # A `to` alone keeps the window's 90 days: the first run only.
        first_run = build("reminders", to="2026-03-05")
    assert first_run.filename == "reminders-2025-12-06-to-2026-03-05"
    assert parsed_csv(first_run) == [
        LEVEL_ROWS[0],
        ["Reminder", "6", "2", "33.33"],
        ["Total", "6", "2", "33.33"],
    ]


def test_reminder_effectiveness_of_a_segment(reminded):
    Customer.objects.filter(pk__in=[reminded["A"].customer_id, reminded["B"].customer_id]).update(
        segment="Retail"
    )
    export = build("reminders", **REMINDED, segment="Retail")

    # A paid on day 7, B on day 8; both were paid before the second reminder.
    assert parsed_csv(export) == [
        LEVEL_ROWS[0],
        ["Reminder", "2", "1", "50.00"],
        ["Total", "2", "1", "50.00"],
    ]
    assert ("Customers", "segment Retail") in export.facts


# The downloads -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("report", "fixture", "query", "name"),
    [
        ("collectors", "world", "?from=2026-02-01&to=2026-02-28", "collectors-2026-02-01-to-2026-02-28"),
        ("reminders", "reminded", "?from=2026-03-05&to=2026-04-01", "reminders-2026-03-05-to-2026-04-01"),
    ],
)
def test_both_download_in_every_format_as_an_attachment(request, reader, report, fixture, query, name):
    request.getfixturevalue(fixture)
    csv_start = b"Collector,Username," if report == "collectors" else b"Level,"
    assert_downloads(reader, report, query, name, csv_start)
    assert report in exports.REPORTS


def test_a_missing_fx_rate_is_a_400_naming_the_field(world, reader):
    FxRate.objects.all().delete()
    response = reader.get(url("collectors", "csv") + "?from=2026-02-01&to=2026-02-28")

    assert (response.status_code, response.content.decode()) == (
        400,
        "to: No EUR→USD rate is dated on or before 2026-02-28.",
    )
