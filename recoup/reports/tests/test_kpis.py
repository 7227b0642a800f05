"""KPIs of a hand-built ledger, made through the ledger services: partial payments, a credit note, a reversed
allocation, unapplied cash and EUR invoices with rates on three dates. Every expected value is worked out by
hand next to its assertion; the command and the API serve the same figures.

The ledger, in USD (base) and EUR; each invoice is issued 30 days before its due date:

| invoice | issued     | due        | amount   | what happens                                               |
|---------|------------|------------|----------|------------------------------------------------------------|
| A1      | 2025-11-15 | 2025-12-15 | 1000 USD | 400 paid 2025-12-20, 600 paid 2026-01-10                   |
| A2      | 2025-12-10 | 2026-01-09 |  500 USD | credit note 100 on 2026-02-05                              |
| A3      | 2025-10-01 | 2025-10-31 |  300 USD | never paid                                                 |
| A4      | 2026-01-15 | 2026-02-14 |  800 USD | 800 paid 2026-02-10; that allocation reversed 2026-03-05   |
| A5      | 2026-03-15 | 2026-04-14 |  250 USD | paid 2026-04-03                                            |
| A6      | 2026-04-02 | 2026-05-02 |   90 USD | open                                                       |
| E0      | 2025-12-05 | 2026-01-04 |  500 EUR | paid 2026-01-30                                            |
| E1      | 2026-01-20 | 2026-02-19 | 1000 EUR | 300 paid 2026-02-25                                        |
| E2      | 2026-02-15 | 2026-03-17 |  200 EUR | open                                                       |
| E3      | 2026-03-25 | 2026-04-24 |  100 EUR | open                                                       |
| EX      | 2025-06-01 | 2025-07-01 |   50 EUR | paid 2025-06-20, before the first EUR rate                 |

Plus 50.00 USD paid on account (unapplied) by ACME on 2026-03-31. EUR→USD: 1.10 from 2025-12-01, 1.20 from
2026-02-01, 1.25 from 2026-03-20.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from recoup.ledger import services
from recoup.ledger.models import Allocation
from recoup.reports import selectors
from recoup.reports.selectors import CollectionPoint, MonthSales, collections, kpis
from recoup.users.models import Role

pytestmark = pytest.mark.django_db
D = dt.date
Q1 = {"start": D(2026, 1, 1), "end": D(2026, 3, 31)}

# The first quarter of 2026 (90 days), worked by hand:
# - begin AR, open at the end of 2025-12-31, at the EUR rate of that day (1.10):
#   A1 1000 − 400 = 600, A2 500, A3 300, E0 500 EUR × 1.10 = 550 → 1950.00
# - credit sales, issued 2026-01-01…03-31, each at the rate of its issue date:
#   A4 800 + A5 250 + E1 1000 × 1.10 (01-20) + E2 200 × 1.20 (02-15) + E3 100 × 1.25 (03-25)
#   = 800 + 250 + 1100 + 240 + 125 = 2515.00
# - end AR, open at the end of 2026-03-31, at the EUR rate of that day (1.25):
#   A2 500 − 100 = 400 (81 days past due), A3 300 (151 days), A4 800 (reopened by the reversal; 45 days),
#   A5 250 (current), E1 700 × 1.25 = 875 (40 days), E2 200 × 1.25 = 250 (14 days), E3 100 × 1.25 = 125
#   (current) → 3000.00; current 250 + 125 = 375.00; more than 90 days past due: A3 300.00
# - collected, payments dated in the quarter at the rate of their date: A1 600 (01-10) + E0 500 × 1.10
#   (01-30) + A4 800 (02-10, still cash received after the reversal) + E1 300 × 1.20 (02-25) + 50 on account
#   (03-31) = 600 + 550 + 800 + 360 + 50 = 2360.00; the credit note is not cash.
Q1_JSON = {
    "period": {"from": "2026-01-01", "to": "2026-03-31"},
    "days": 90,
    "currency": "USD",
    "begin_ar": "1950.00",
    "credit_sales": "2515.00",
    "end_ar": "3000.00",
    "end_current_ar": "375.00",
    "collected": "2360.00",
    "dso": 107.36,  # 3000 ÷ 2515 × 90 = 107.3558…
    # March 375 (31 days) + February 240 (28) + January 1900 (31) = 2515 leaves 485 of the 3000 for December
    # 2025: A2 500 + E0 500 × 1.10 (12-05) = 1050 → 485 ÷ 1050 × 31 = 14.3190… → 90 + 14.3190 = 104.3190…
    "countback_dso": 104.32,
    "bpdso": 13.42,  # 375 ÷ 2515 × 90 = 13.4194…
    "add": 93.94,  # (3000 − 375) ÷ 2515 × 90 = 93.9363…
    "cei": 35.82,  # (1950 + 2515 − 3000) ÷ (1950 + 2515 − 375) × 100 = 1465 ÷ 4090 × 100 = 35.8190…
    "pct_current": 12.5,  # 375 ÷ 3000 × 100
    "pct_over_90": 10.0,  # 300 ÷ 3000 × 100
}


@pytest.fixture
def ledger(books, settings):
    settings.BASE_CURRENCY = "USD"
    for date, rate in ((D(2025, 12, 1), "1.10"), (D(2026, 2, 1), "1.20"), (D(2026, 3, 20), "1.25")):
        services.fx_rate_set(actor=None, currency="EUR", date=date, rate=Decimal(rate))
    acme = books.customer("ACME")
    euro = books.customer("EURO", currency="EUR")
    a1 = books.invoice(acme, D(2025, 12, 15), "1000.00", external_id="A1")
    a2 = books.invoice(acme, D(2026, 1, 9), "500.00", external_id="A2")
    books.invoice(acme, D(2025, 10, 31), "300.00", external_id="A3")
    a4 = books.invoice(acme, D(2026, 2, 14), "800.00", external_id="A4")
    a5 = books.invoice(acme, D(2026, 4, 14), "250.00", external_id="A5")
    books.invoice(acme, D(2026, 5, 2), "90.00", external_id="A6")
    e0 = books.invoice(euro, D(2026, 1, 4), "500.00", external_id="E0")
    e1 = books.invoice(euro, D(2026, 2, 19), "1000.00", external_id="E1")
    books.invoice(euro, D(2026, 3, 17), "200.00", external_id="E2")
    books.invoice(euro, D(2026, 4, 24), "100.00", external_id="E3")
    ex = books.invoice(euro, D(2025, 7, 1), "50.00", external_id="EX")
    books.pay(ex, "50.00", D(2025, 6, 20))
    books.pay(a1, "400.00", D(2025, 12, 20))
    books.pay(a1, "600.00", D(2026, 1, 10))
    books.credit(a2, "100.00", D(2026, 2, 5))
    books.pay(a4, "800.00", D(2026, 2, 10))
    services.allocation_reverse(
        actor=None, allocation=Allocation.objects.get(invoice=a4, reverses=None), date=D(2026, 3, 5)
    )
    books.pay(e0, "500.00", D(2026, 1, 30))
    books.pay(e1, "300.00", D(2026, 2, 25))
    books.pay(a5, "250.00", D(2026, 4, 3))
    services.payment_create(
        actor=None, customer=acme, external_id="ON-ACCOUNT", date=D(2026, 3, 31), amount=Decimal("50.00")
    )
    return books


# The selector -----------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("ledger")
def test_first_quarter_figures_are_exact():
    report = kpis(**Q1)
    assert (report.begin_ar, report.credit_sales, report.end_ar) == (
        Decimal("1950.00"),
        Decimal("2515.00"),
        Decimal("3000.00"),
    )
    assert (report.end_current_ar, report.end_over_90_ar, report.collected) == (
        Decimal("375.00"),
        Decimal("300.00"),
        Decimal("2360.00"),
    )
    # The countback went back past the period into December 2025, and no further (so EX's June 2025, which
    # has no EUR rate, was never converted).
    assert report.countback_months == (
        MonthSales(D(2026, 3, 1), D(2026, 3, 31), Decimal("375.00")),
        MonthSales(D(2026, 2, 1), D(2026, 2, 28), Decimal("240.00")),
        MonthSales(D(2026, 1, 1), D(2026, 1, 31), Decimal("1900.00")),
        MonthSales(D(2025, 12, 1), D(2025, 12, 31), Decimal("1050.00")),
    )
    # The exact figures, before rounding.
    assert report.dso == Decimal(3000) / Decimal(2515) * 90
    assert report.countback_dso == 90 + Decimal(485) / Decimal(1050) * 31
    assert report.bpdso == Decimal(375) / Decimal(2515) * 90
    assert report.cei == Decimal(1465) / Decimal(4090) * 100
    assert [(r.currency, r.rate, r.date) for r in report.begin_rates] == [
        ("EUR", Decimal("1.1000000000"), D(2025, 12, 1))
    ]
    assert [(r.currency, r.rate, r.date) for r in report.end_rates] == [
        ("EUR", Decimal("1.2500000000"), D(2026, 3, 20))
    ]
    assert report.as_dict() == Q1_JSON


@pytest.mark.usefixtures("ledger")
def test_a_period_without_credit_sales_has_no_dso_bpdso_or_add():
    # 2026-04-05…04-10 (6 days): nothing issued, nothing paid, nothing changes.
    # begin AR (end of 04-04) = end AR (end of 04-10): A2 400 + A3 300 + A4 800 + A6 90 (A5 was paid on
    # 04-03) + E1 700 × 1.25 + E2 200 × 1.25 + E3 100 × 1.25 = 1590 + 875 + 250 + 125 = 2840.00
    # current on 04-10: A6 90 (due 05-02) + E3 125 (due 04-24) = 215.00
    # over 90 days on 04-10: A3 300 (161 days) + A2 400 (due 01-09: 91 days) = 700.00
    assert kpis(start=D(2026, 4, 5), end=D(2026, 4, 10)).as_dict() == {
        "period": {"from": "2026-04-05", "to": "2026-04-10"},
        "days": 6,
        "currency": "USD",
        "begin_ar": "2840.00",
        "credit_sales": "0.00",
        "end_ar": "2840.00",
        "end_current_ar": "215.00",
        "collected": "0.00",
        "dso": None,
        # April 1–10 90 (10 days), March 375 (31), February 240 (28), January 1900 (31) → 2605, leaving 235
        # of December's 1050: 235 ÷ 1050 × 31 = 6.9380… → 100 + 6.9380 = 106.9380…
        "countback_dso": 106.94,
        "bpdso": None,
        "add": None,
        "cei": 0.0,  # (2840 + 0 − 2840) ÷ (2840 + 0 − 215) × 100
        "pct_current": 7.57,  # 215 ÷ 2840 × 100 = 7.5704…
        "pct_over_90": 24.65,  # 700 ÷ 2840 × 100 = 24.6478…
    }


def test_an_empty_ledger_gives_zero_amounts_and_no_figures(db, settings):
    settings.BASE_CURRENCY = "EUR"
    figures = kpis(**Q1).as_dict()
    assert {k: figures[k] for k in ("begin_ar", "credit_sales", "end_ar", "end_current_ar", "collected")} == {
        "begin_ar": "0.00",
        "credit_sales": "0.00",
        "end_ar": "0.00",
        "end_current_ar": "0.00",
        "collected": "0.00",
    }
    assert [
        figures[k] for k in ("dso", "countback_dso", "bpdso", "add", "cei", "pct_current", "pct_over_90")
    ] == [None] * 7
    assert figures["currency"] == "EUR"


def test_amounts_follow_the_base_currencys_minor_unit(books, settings):
    settings.BASE_CURRENCY = "JPY"
    services.fx_rate_set(actor=None, currency="USD", date=D(2026, 1, 1), rate=Decimal("150.5"))
    acme = books.customer("ACME")
    # 10.25 USD × 150.5 = 1542.625 → 1543 JPY (half up, no decimals)
    books.invoice(acme, D(2026, 2, 10), "10.25")
    figures = kpis(start=D(2026, 1, 1), end=D(2026, 1, 31)).as_dict()
    assert (figures["credit_sales"], figures["end_ar"], figures["end_current_ar"]) == ("1543", "1543", "1543")
    assert (figures["dso"], figures["bpdso"], figures["countback_dso"]) == (31.0, 31.0, 31.0)


@pytest.mark.usefixtures("ledger")
def test_two_aging_reports_by_total_and_a_fixed_number_of_queries(books, monkeypatch):
    calls = []
    original = selectors.aging_report

    def spy(**kwargs):
        calls.append((kwargs["as_of"], kwargs["by"], kwargs["basis"]))
        return original(**kwargs)

    monkeypatch.setattr(selectors, "aging_report", spy)
    with CaptureQueriesContext(connection) as before:
        kpis(**Q1)
    assert calls == [(D(2025, 12, 31), "total", "due"), (D(2026, 3, 31), "total", "due")]
    # Forty more invoices and payments in the same quarter: the same queries, the figures move.
    acme = books.customer("MORE")
    for n in range(40):
        invoice = books.invoice(acme, D(2026, 2, 1) + dt.timedelta(days=n), "10.00")
        books.pay(invoice, "10.00", D(2026, 2, 1) + dt.timedelta(days=n))
    with CaptureQueriesContext(connection) as after:
        report = kpis(**Q1)
    assert len(after.captured_queries) == len(before.captured_queries)
    # 40 × 10.00 more sales and collections (each invoice paid on its issue date, so never open), the last
    # ones in March: sales 2515 + 400, collected 2360 + 400, end AR unchanged.
    assert (report.credit_sales, report.collected, report.end_ar) == (
        Decimal("2915.00"),
        Decimal("2760.00"),
        Decimal("3000.00"),
    )


def test_countback_beyond_the_ledgers_sales_stops_at_its_first_invoice(books, settings):
    # One EUR invoice of 100 issued 2026-01-10, open; EUR is worth 1.00 USD then and 2.00 from 2026-03-01.
    settings.BASE_CURRENCY = "USD"
    services.fx_rate_set(actor=None, currency="EUR", date=D(2026, 1, 1), rate=Decimal("1.00"))
    services.fx_rate_set(actor=None, currency="EUR", date=D(2026, 3, 1), rate=Decimal("2.00"))
    books.invoice(books.customer("EURO", currency="EUR"), D(2026, 2, 9), "100.00")
    report = kpis(start=D(2026, 3, 1), end=D(2026, 3, 31))
    # End AR 100 × 2.00 = 200 against sales of 100 × 1.00 in January and none since: March (31 days) and
    # February (28) count whole, January's 100 (31 days) leaves 100, which January's rate covers in 31 more
    # days: 31 + 28 + 31 + 100 ÷ 100 × 31 = 121. The empty months before January 2026 count for nothing.
    assert report.end_ar == Decimal("200.00")
    assert [m.start for m in report.countback_months] == [D(2026, 3, 1), D(2026, 2, 1), D(2026, 1, 1)]
    assert report.countback_dso == Decimal(121)
    assert report.dso is None  # nothing issued in March


# Collections ------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("ledger")
def test_collections_by_month_and_by_iso_week():
    # January: A1 600 (01-10) + E0 500 × 1.10 (01-30) = 1150; February: A4 800 (02-10) + E1 300 × 1.20 (02-25)
    # = 1160; March: 50 on account (03-31).
    assert collections(**Q1, by="month") == [
        CollectionPoint("2026-01", D(2026, 1, 1), D(2026, 1, 31), Decimal("1150.00")),
        CollectionPoint("2026-02", D(2026, 2, 1), D(2026, 2, 28), Decimal("1160.00")),
        CollectionPoint("2026-03", D(2026, 3, 1), D(2026, 3, 31), Decimal("50.00")),
    ]
    weeks = collections(**Q1, by="week")
    # 2026-01-01 is a Thursday of ISO week 1; 2026-03-31 a Tuesday of week 14: 14 weeks, both ends partial.
    assert [(p.label, p.start, p.end) for p in (weeks[0], weeks[-1])] == [
        ("2026-W01", D(2026, 1, 1), D(2026, 1, 4)),
        ("2026-W14", D(2026, 3, 30), D(2026, 3, 31)),
    ]
    assert {p.label: p.amount for p in weeks if p.amount} == {
        "2026-W02": Decimal("600.00"),  # Saturday 01-10
        "2026-W05": Decimal("550.00"),  # Friday 01-30
        "2026-W07": Decimal("800.00"),  # Tuesday 02-10
        "2026-W09": Decimal("360.00"),  # Wednesday 02-25
        "2026-W14": Decimal("50.00"),  # Tuesday 03-31
    }
    assert len(weeks) == 14 and all(p.amount == Decimal("0.00") for p in weeks if p.amount == 0)


@pytest.mark.usefixtures("ledger")
def test_collections_by_day_list_every_day():
    days = collections(start=D(2026, 1, 9), end=D(2026, 1, 11), by="day")
    assert days == [
        CollectionPoint("2026-01-09", D(2026, 1, 9), D(2026, 1, 9), Decimal("0.00")),
        CollectionPoint("2026-01-10", D(2026, 1, 10), D(2026, 1, 10), Decimal("600.00")),
        CollectionPoint("2026-01-11", D(2026, 1, 11), D(2026, 1, 11), Decimal("0.00")),
    ]
    quarter = collections(**Q1, by="day")
    assert len(quarter) == 90 and sum(p.amount for p in quarter) == Decimal("2360.00")


def test_collections_refuse_an_unknown_grouping(db):
    with pytest.raises(selectors.DomainError, match="by must be one of day, week, month"):
        collections(**Q1, by="year")


# Missing FX rates and bad periods ---------------------------------------------------------------------------


def test_a_sale_without_a_rate_of_its_day_is_refused_naming_the_currency_and_day(books, settings):
    settings.BASE_CURRENCY = "USD"
    services.fx_rate_set(actor=None, currency="EUR", date=D(2025, 12, 1), rate=Decimal("1.10"))
    euro = books.customer("EURO", currency="EUR")
    invoice = books.invoice(euro, D(2025, 12, 20), "100.00")  # issued 2025-11-20, before the first rate
    books.pay(invoice, "100.00", D(2025, 11, 25))  # settled: no aging needs a rate
    with pytest.raises(selectors.DomainError) as refused:
        kpis(start=D(2025, 11, 1), end=D(2025, 11, 30))
    assert (refused.value.message, refused.value.field, refused.value.code) == (
        "No EUR→USD rate is dated on or before 2025-11-20.",
        "from",
        "missing_fx_rate",
    )


def test_ar_without_a_rate_on_the_last_day_is_refused_on_to(books, settings):
    settings.BASE_CURRENCY = "USD"
    euro = books.customer("EURO", currency="EUR")
    books.invoice(euro, D(2025, 12, 20), "100.00")
    with pytest.raises(selectors.DomainError) as refused:
        kpis(start=D(2025, 11, 1), end=D(2025, 11, 30))
    assert (refused.value.message, refused.value.field) == (
        "No EUR→USD rate is dated on or before 2025-11-30.",
        "to",
    )


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (D(2026, 3, 1), D(2026, 2, 28), "The period ends before it starts."),
        (D(1899, 12, 31), D(2026, 2, 28), "Choose a date from 1900-01-01 on."),
    ],
)
def test_bad_periods_are_refused_on_from(db, start, end, message):
    with pytest.raises(selectors.DomainError) as refused:
        kpis(start=start, end=end)
    assert (refused.value.message, refused.value.field) == (message, "from")


# The command ------------------------------------------------------------------------------------------------


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("kpis", *args, stdout=out)
    return out.getvalue()


@pytest.mark.usefixtures("ledger")
def test_command_json_is_the_report_exactly():
    assert json.loads(run("--from", "2026-01-01", "--to", "2026-03-31", "--format", "json")) == Q1_JSON


@pytest.mark.usefixtures("ledger")
def test_command_table_states_figures_formulas_and_rates():
    table = run("--from", "2026-01-01", "--to", "2026-03-31")
    assert table.splitlines() == [
        "KPIs from 2026-01-01 to 2026-03-31 (90 days), in USD",
        "Rates: begin AR EUR 1.1000000000 (2025-12-01); end AR EUR 1.2500000000 (2026-03-20); "
        "sales and collections at the rate of each document's date.",
        "",
        "begin AR        1,950.00 USD   open at the end of 2025-12-31",
        "credit sales    2,515.00 USD   invoices issued in the period",
        "end AR          3,000.00 USD   open at the end of 2026-03-31",
        "end current AR    375.00 USD   of which not yet due",
        "collected       2,360.00 USD   payments received in the period",
        "",
        "DSO               107.36 days  end AR ÷ credit sales × 90",
        "countback DSO     104.32 days  end AR counted back over monthly sales, 2026-03 back to 2025-12",
        "BPDSO              13.42 days  end current AR ÷ credit sales × 90",
        "ADD                93.94 days  DSO − BPDSO",
        "CEI                35.82 %     "
        "(begin AR + sales − end AR) ÷ (begin AR + sales − end current AR) × 100, not divided by months",
        "% current          12.50 %     end current AR ÷ end AR × 100",
        "% over 90 days     10.00 %     AR over 90 days past due ÷ end AR × 100",
    ]


def test_command_table_shows_missing_figures_as_not_available(db):
    table = run("--from", "2026-01-01", "--to", "2026-01-31")
    lines = [" ".join(line.split()) for line in table.splitlines()]
    assert "DSO n/a end AR ÷ credit sales × 31" in lines
    assert "countback DSO n/a end AR counted back over monthly sales" in lines
    assert "Rates: begin AR none needed; end AR none needed; " in table


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--from", "2026-02-30", "--to", "2026-03-31"),
            "Error: argument --from: '2026-02-30' is not a date (expected YYYY-MM-DD)",
        ),
        (
            ("--from", "2026-01-01", "--to", "31/03/2026"),
            "Error: argument --to: '31/03/2026' is not a date (expected YYYY-MM-DD)",
        ),
        (("--from", "2026-04-01", "--to", "2026-03-31"), "The period ends before it starts."),
        (("--from", "1899-12-31", "--to", "2026-03-31"), "Choose a date from 1900-01-01 on."),
        (
            (
                "--from",
                "2026-01-01",
            ),
            "Error: the following arguments are required: --to",
        ),
        (
            ("--from", "2026-01-01", "--to", "2026-03-31", "--format", "csv"),
            "Error: argument --format: invalid",
        ),
    ],
)
def test_command_errors_are_clear(db, args, message):
    with pytest.raises(CommandError) as refused:
        run(*args)
    assert str(refused.value).startswith(message)


def test_the_recoup_command_prints_bad_periods_without_a_traceback(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
        "RECOUP_INSECURE_DEFAULTS": "1",
    }

    def recoup(*args: str) -> subprocess.CompletedProcess[str]:
        command = [str(Path(sys.executable).with_name("recoup")), "kpis", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True)

    bad_date = recoup("--from", "2026-13-01", "--to", "2026-12-31")
    assert (bad_date.returncode, bad_date.stdout) == (2, "")
    assert bad_date.stderr.splitlines()[-1] == (
        "recoup kpis: error: argument --from: '2026-13-01' is not a date (expected YYYY-MM-DD)"
    )
    backwards = recoup("--from", "2026-04-01", "--to", "2026-03-31")
    assert (backwards.returncode, backwards.stdout) == (1, "")
    assert backwards.stderr == "CommandError: The period ends before it starts.\n"


# The API ----------------------------------------------------------------------------------------------------

URL = "/api/v1/reports/kpis"


@pytest.mark.usefixtures("ledger")
@pytest.mark.parametrize("role", sorted(Role.values))
def test_api_serves_the_report_to_every_role(client_for, role):
    response = client_for(role).get(f"{URL}?from=2026-01-01&to=2026-03-31")
    assert response.status_code == 200, response.content
    assert response.json() == Q1_JSON


@pytest.mark.usefixtures("ledger")
def test_api_with_a_trailing_slash_and_nulls(client_for):
    response = client_for(Role.VIEWER).get(f"{URL}/?from=2026-04-05&to=2026-04-10")
    assert response.status_code == 200
    body = response.json()
    assert (body["dso"], body["bpdso"], body["add"], body["countback_dso"]) == (None, None, None, 106.94)
    assert response.content.count(b"null") == 3


def test_api_needs_a_user(db):
    from rest_framework.test import APIClient

    response = APIClient().get(f"{URL}?from=2026-01-01&to=2026-03-31")
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("", {"from": ["This field is required."], "to": ["This field is required."]}),
        ("from=2026-01-01", {"to": ["This field is required."]}),
        (
            "from=2026-02-30&to=2026-03-31",
            {"from": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]},
        ),
        ("from=2026-04-01&to=2026-03-31", {"from": ["The period ends before it starts."]}),
        ("from=1899-12-31&to=2026-03-31", {"from": ["Choose a date from 1900-01-01 on."]}),
        ("from=2026-01-01&to=2027-06-03", {"to": ["Choose a date no later than 2027-06-02."]}),
    ],
)
def test_api_bad_parameters_are_field_errors(client_for, query, errors):
    with time_machine.travel(dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC), tick=False):
        response = client_for(Role.VIEWER).get(f"{URL}?{query}")
    assert response.status_code == 400
    assert response.json() == errors


def test_api_missing_fx_rate_is_a_400_on_to(books, client_for, settings):
    settings.BASE_CURRENCY = "USD"
    books.invoice(books.customer("EURO", currency="EUR"), D(2025, 12, 20), "100.00")
    response = client_for(Role.MANAGER).get(f"{URL}?from=2025-11-01&to=2025-11-30")
    assert response.status_code == 400
    assert response.json() == {"to": ["No EUR→USD rate is dated on or before 2025-11-30."]}


def test_api_schema_documents_the_report_without_warnings(db, tmp_path):
    import yaml

    target = tmp_path / "schema.yml"
    call_command(
        "spectacular",
        "--fail-on-warn",
        "--validate",
        "--file",
        str(target),
    )
    schema = yaml.safe_load(target.read_text())
    assert "/api/v1/reports/kpis/" not in schema["paths"]
    operation = schema["paths"]["/api/v1/reports/kpis"]["get"]
    assert [(p["name"], p["required"]) for p in operation["parameters"]] == [("from", True), ("to", True)]
    component = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    properties = schema["components"]["schemas"][component]["properties"]
    assert set(properties) == set(Q1_JSON)
