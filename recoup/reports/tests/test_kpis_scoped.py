"""The KPI selectors limited to some customers (`customer_ids`, what the dashboard's Scope gives), on the
hand-built ledger of test_kpis.py: every figure of one customer's first quarter, worked by hand; no
customer_ids is the whole ledger as before, and an empty list is nobody."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from recoup.ledger.models import Customer
from recoup.reports.selectors import collected, collections, credit_sales_series, kpis
from recoup.reports.tests.test_kpis import Q1, Q1_JSON, ledger  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ledger")]
D = dt.date


def ids(*external_ids: str) -> list[int]:
    return list(Customer.objects.filter(external_id__in=external_ids).values_list("id", flat=True))


def test_no_customer_ids_is_the_whole_ledger():
    assert kpis(**Q1, customer_ids=None).as_dict() == kpis(**Q1).as_dict() == Q1_JSON


def test_one_customer_s_quarter_is_exact():
    # ACME alone (USD), Q1 2026 (90 days):
    # - begin AR at 2025-12-31: A1 1000 − 400 = 600, A2 500, A3 300 → 1400
    # - credit sales: A4 800 (01-15) + A5 250 (03-15) → 1050
    # - end AR at 03-31: A2 400, A3 300, A4 800 (reopened), A5 250 (current) → 1750; over 90 days: A3 300
    # - collected: A1 600 (01-10) + A4 800 (02-10) + 50 on account (03-31) → 1450
    assert kpis(**Q1, customer_ids=ids("ACME")).as_dict() == {
        "period": {"from": "2026-01-01", "to": "2026-03-31"},
        "days": 90,
        "currency": "USD",
        "begin_ar": "1400.00",
        "credit_sales": "1050.00",
        "end_ar": "1750.00",
        "end_current_ar": "250.00",
        "collected": "1450.00",
        "dso": 150.0,  # 1750 ÷ 1050 × 90
        # March 250 (31 days), February 0 (28), January 800 (31) leave 700 of 1750; December 2025 has A2 500
        # (31 days), leaving 200 for November's A1 1000: 31 + 28 + 31 + 31 + 200 ÷ 1000 × 30 = 127
        "countback_dso": 127.0,
        "bpdso": 21.43,  # 250 ÷ 1050 × 90 = 21.4285…
        "add": 128.57,  # 1500 ÷ 1050 × 90 = 128.5714…
        "cei": 31.82,  # (1400 + 1050 − 1750) ÷ (1400 + 1050 − 250) × 100 = 700 ÷ 2200 × 100
        "pct_current": 14.29,  # 250 ÷ 1750
        "pct_over_90": 17.14,  # 300 ÷ 1750
    }


def test_an_empty_list_is_nobody():
    report = kpis(**Q1, customer_ids=[])
    assert (report.begin_ar, report.credit_sales, report.end_ar, report.collected) == (Decimal("0.00"),) * 4
    assert (report.dso, report.cei, report.countback_dso) == (None, None, None)
    assert collected(**Q1, customer_ids=[]) == Decimal("0.00")


def test_collections_and_credit_sales_of_some_customers():
    euro = ids("EURO")
    # E0 500 EUR × 1.10 on 01-30; E1 300 EUR × 1.20 on 02-25.
    assert [(p.label, str(p.amount)) for p in collections(**Q1, by="month", customer_ids=euro)] == [
        ("2026-01", "550.00"),
        ("2026-02", "360.00"),
        ("2026-03", "0.00"),
    ]
    assert collected(**Q1, customer_ids=euro) == Decimal("910.00")
    # Sales at each issue date's rate: E1 1000 × 1.10 (01-20), E2 200 × 1.20 (02-15), E3 100 × 1.25 (03-25).
    assert [str(p.amount) for p in credit_sales_series(**Q1, customer_ids=euro)] == [
        "1100.00",
        "240.00",
        "125.00",
    ]
    # Everyone: A4 800 joins January, A5 250 March; the quarter adds up to kpis' 2515.00.
    everyone = credit_sales_series(**Q1)
    assert [str(p.amount) for p in everyone] == ["1900.00", "240.00", "375.00"]
    assert sum(p.amount for p in everyone) == Decimal(Q1_JSON["credit_sales"])
    # By ISO week: A4 (issued 01-15) in 2026-W03, E1 (01-20, × 1.10) in 2026-W04.
    weeks = credit_sales_series(start=D(2026, 1, 12), end=D(2026, 1, 25), by="week")
    assert [(p.label, str(p.amount)) for p in weeks] == [("2026-W03", "800.00"), ("2026-W04", "1100.00")]
