"""The dashboard: every JSON endpoint's exact figures on a hand-built ledger, the filters that change them,
bad filters, roles, the htmx body, the drill-down links followed to the customer and invoice lists they
open, and query counts that do not grow with the ledger.

Today is Monday 2026-03-16. Base currency USD; EUR→USD 1.10 from 2025-12-01, 1.20 from 2026-02-15. Each
invoice is issued 30 days before its due date.

| customer        | collector, team  | segment    | inv | issued     | due        | amount   | then          |
|-----------------|------------------|------------|-----|------------|------------|----------|---------------|
| Acme Corp       | Cara Cole, North | Enterprise | A1  | 2025-12-11 | 2026-01-10 | 1000 USD | 400 paid 1-20 |
|                 |                  |            | A2  | 2026-01-30 | 2026-03-01 |  500 USD | 200 disputed  |
|                 |                  |            | A3  | 2026-03-02 | 2026-04-01 |  300 USD | open          |
| Bolt Retail     | Dave Diaz, South | Retail     | B1  | 2025-10-02 | 2025-11-01 |  200 USD | never paid    |
|                 |                  |            | B2  | 2026-01-11 | 2026-02-10 |  400 USD | paid 2-20     |
| Euro GmbH (EUR) | Cara Cole, North | Retail     | E1  | 2026-01-02 | 2026-02-01 | 1000 EUR | open          |
| Zed Ltd         | nobody           | —          | Z1  | 2026-02-08 | 2026-03-10 |  100 USD | open          |

Zed also paid 50 USD on account on 2026-03-09 (unapplied).
Promises: Acme 600 USD by 2026-03-20 and Euro 500 EUR by 2026-03-12, both pending; Bolt's 400 USD by
2026-02-18 was kept, Zed's 100 USD by 2026-03-01 broken.

Aging today (EUR at 1.20), by bucket current / 1-30 / 31-60 / 61-90 / 91-120 / 120+:
  Acme: A3 300 current, A2 500 (15 days), A1 600 (65 days) → 1,400.00, of which 1,100.00 overdue
  Bolt: B1 200 (135 days) → 200.00, all overdue
  Euro: E1 1000 EUR × 1.20 = 1,200.00 (43 days) → all overdue
  Zed:  Z1 100 (6 days) → 100.00, all overdue
  → 300 / 600 / 1200 / 600 / 0 / 200 = 2,900.00; overdue 2,600.00; over 90 days 200.00 (6.9 %)

Month-ends (nothing was issued before 2025-10-02, so 2025-03-31 … 2025-09-30 are all zero):
  2025-10-31: B1 200 current                                                     → 200
  2025-11-30: B1 200 (29 days, 1-30)                                             → 200
  2025-12-31: B1 200 (60 days, 31-60); A1 1000 current                           → 1,200
  2026-01-31: A2 500 + B2 400 + E1 1000 × 1.10 (due tomorrow) current = 2,000; A1 600 (21 days, 1-30);
              B1 200 (91 days, 91-120)                                           → 2,800
  2026-02-28: A2 500 + Z1 100 current = 600; E1 1000 × 1.20 (27 days, 1-30) = 1,200; A1 600 (49 days,
              31-60); B1 200 (119 days, 91-120)                                  → 2,600
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from recoup.activity import services as activity
from recoup.activity.models import Promise, PromiseStatus
from recoup.disputes import defaults as dispute_defaults
from recoup.disputes import services as disputes
from recoup.insights import selectors as insights_selectors
from recoup.insights import services as insights
from recoup.insights.tests.support import keep_forecast
from recoup.ledger import kept, services
from recoup.ledger.models import Customer, Invoice
from recoup.ledger.tests.test_views import tables
from recoup.reports import dashboard, selectors
from recoup.reports.models import AgingSnapshot, AgingSnapshotMonth
from recoup.reports.scope import Scope
from recoup.users.models import Role, Team, User

D = dt.date
TODAY = D(2026, 3, 16)
pytestmark = pytest.mark.django_db
ROLES = [Role.ADMIN, Role.MANAGER, Role.COLLECTOR, Role.RESOLVER, Role.VIEWER]
ENDPOINTS = [
    "dashboard-aging",
    "dashboard-kpis",
    "dashboard-collections",
    "dashboard-outlook",
    "dashboard-top-overdue",
    "dashboard-collectors",
    "dashboard-figures",
]
MONTH_ENDS = [
    "2025-03-31",
    "2025-04-30",
    "2025-05-31",
    "2025-06-30",
    "2025-07-31",
    "2025-08-31",
    "2025-09-30",
    "2025-10-31",
    "2025-11-30",
    "2025-12-31",
    "2026-01-31",
    "2026-02-28",
]
Z7 = ["0.00"] * 7  # the seven month-ends before the first invoice
HEAD = {"as_of": "2026-03-16", "currency": "USD", "places": 2}


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(dt.datetime(2026, 3, 16, 12, 0, tzinfo=dt.UTC), tick=False):
        yield


@pytest.fixture
def world(books, settings):
    settings.BASE_CURRENCY = "USD"
    dispute_defaults.install_reasons()
    north, south = Team.objects.create(name="North"), Team.objects.create(name="South")
    cara = User.objects.create_user(
        username="cara",
        password="pw-cara",
        role=Role.COLLECTOR,
        team=north,
        first_name="Cara",
        last_name="Cole",
    )
    dave = User.objects.create_user(
        username="dave",
        password="pw-dave",
        role=Role.COLLECTOR,
        team=south,
        first_name="Dave",
        last_name="Diaz",
    )
    mia = User.objects.create_user(username="mia", password="pw-mia", role=Role.MANAGER)
    for date, rate in ((D(2025, 12, 1), "1.10"), (D(2026, 2, 15), "1.20")):
        services.fx_rate_set(actor=None, currency="EUR", date=date, rate=Decimal(rate))
    acme = books.customer("ACME", name="Acme Corp", collector=cara, segment="Enterprise")
    bolt = books.customer("BOLT", name="Bolt Retail", collector=dave, segment="Retail")
    euro = books.customer("EURO", name="Euro GmbH", currency="EUR", collector=cara, segment="Retail")
    zed = books.customer("ZED", name="Zed Ltd")
    a1 = books.invoice(acme, D(2026, 1, 10), "1000.00", external_id="A1")
    a2 = books.invoice(acme, D(2026, 3, 1), "500.00", external_id="A2")
    books.invoice(acme, D(2026, 4, 1), "300.00", external_id="A3")
    books.invoice(bolt, D(2025, 11, 1), "200.00", external_id="B1")
    b2 = books.invoice(bolt, D(2026, 2, 10), "400.00", external_id="B2")
    books.invoice(euro, D(2026, 2, 1), "1000.00", external_id="E1")
    books.invoice(zed, D(2026, 3, 10), "100.00", external_id="Z1")
    books.pay(a1, "400.00", D(2026, 1, 20))
    books.pay(b2, "400.00", D(2026, 2, 20))
    services.payment_create(
        actor=None, customer=zed, external_id="ON-ACCOUNT", date=D(2026, 3, 9), amount=Decimal("50.00")
    )
    activity.promise_create(actor=None, customer=acme, amount="600.00", promised_date=D(2026, 3, 20))
    activity.promise_create(actor=None, customer=euro, amount="500.00", promised_date=D(2026, 3, 12))
    kept = activity.promise_create(actor=None, customer=bolt, amount="400.00", promised_date=D(2026, 2, 18))
    broken = activity.promise_create(actor=None, customer=zed, amount="100.00", promised_date=D(2026, 3, 1))
    # No service evaluates promises yet (the activity issue): their outcome is set as that one would.
    Promise.objects.filter(pk=kept.pk).update(status=PromiseStatus.KEPT)
    Promise.objects.filter(pk=broken.pk).update(status=PromiseStatus.BROKEN)
    disputes.dispute_open(actor=None, invoice=a2, reason="pricing", amount="200.00", opened_on=D(2026, 3, 5))
    return {"cara": cara, "dave": dave, "mia": mia, "north": north, "south": south, "books": books}


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def data(client: Client, name: str, **params: str) -> dict:
    response = client.get(reverse(name), params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    return response.json()


def first_column(response) -> list[str]:
    [rows] = [rows for table, rows in tables(response).items() if table in ("customers", "invoices")]
    return [row[0] if table_is_invoices(response) else row[1] for row in rows]


def table_is_invoices(response) -> bool:
    return "invoices" in tables(response)


def follow(client: Client, url: str) -> list[list[str]]:
    """The rows of the customer or invoice list at `url`."""
    response = client.get(url)
    assert response.status_code == 200
    found = tables(response)
    return found.get("invoices") or found["customers"]


# (a) Aging ----------------------------------------------------------------------------------------------


def aging_links(band: str, query: str = "") -> list[str]:
    extra = f"&{query}" if query else ""
    band = band.replace("+", "%2B")
    return [f"/invoices/?as_of={end}&band={band}{extra}" for end in MONTH_ENDS] + [
        f"/invoices/?band={band}{extra}"
    ]


def test_aging_is_twelve_month_ends_and_today_by_bucket(world):
    body = data(client_for(world["mia"]), "dashboard-aging")
    assert body == {
        **HEAD,
        "labels": [*MONTH_ENDS, "Today"],
        "dates": [*MONTH_ENDS, "2026-03-16"],
        "datasets": [
            {
                "key": "current",
                "label": "Current",
                # 2025-10-31 B1; 2025-12-31 A1; 2026-01-31 A2 + B2 + E1 × 1.10; 2026-02-28 A2 + Z1; today A3
                "data": [*Z7, "200.00", "0.00", "1000.00", "2000.00", "600.00", "300.00"],
                "links": aging_links("current"),
            },
            {
                "key": "1-30",
                "label": "1–30 days",
                # 2025-11-30 B1; 2026-01-31 A1's 600 left; 2026-02-28 E1 × 1.20; today A2 500 + Z1 100
                "data": [*Z7, "0.00", "200.00", "0.00", "600.00", "1200.00", "600.00"],
                "links": aging_links("1-30"),
            },
            {
                "key": "31-60",
                "label": "31–60 days",
                "data": [*Z7, "0.00", "0.00", "200.00", "0.00", "600.00", "1200.00"],  # B1; A1; E1 today
                "links": aging_links("31-60"),
            },
            {
                "key": "61-90",
                "label": "61–90 days",
                "data": [*Z7, "0.00", "0.00", "0.00", "0.00", "0.00", "600.00"],  # A1, 65 days today
                "links": aging_links("61-90"),
            },
            {
                "key": "91-120",
                "label": "91–120 days",
                "data": [*Z7, "0.00", "0.00", "0.00", "200.00", "200.00", "0.00"],  # B1 at 91 and 119 days
                "links": aging_links("91-120"),
            },
            {
                "key": "120+",
                "label": "Over 120 days",
                "data": [*Z7, "0.00", "0.00", "0.00", "0.00", "0.00", "200.00"],  # B1, 135 days today
                "links": aging_links("120+"),
            },
        ],
        "totals": [*Z7, "200.00", "200.00", "1200.00", "2800.00", "2600.00", "2900.00"],
        "filters": {},
    }


def test_each_aging_bar_is_the_aging_report_of_its_day(world):
    from recoup.ledger.aging import aging_report

    body = data(client_for(world["mia"]), "dashboard-aging")
    for index, day in enumerate(body["dates"]):
        report = aging_report(as_of=D.fromisoformat(day), by="total")
        assert [dataset["data"][index] for dataset in body["datasets"]] == [
            str(v) for v in report.total.buckets
        ]
        assert body["totals"][index] == str(report.total.total)


@pytest.mark.parametrize(
    ("params", "today"),
    [
        # Cara collects Acme and Euro: A3 300; A2 500; E1 1,200; A1 600.
        ("collector", ["300.00", "500.00", "1200.00", "600.00", "0.00", "0.00"]),
        # Dave's team is South: Bolt's B1 alone.
        ("team", ["0.00", "0.00", "0.00", "0.00", "0.00", "200.00"]),
        # The customers billed in EUR: Euro's E1.
        ("currency", ["0.00", "0.00", "1200.00", "0.00", "0.00", "0.00"]),
        # Retail: Bolt and Euro.
        ("segment", ["0.00", "0.00", "1200.00", "0.00", "0.00", "200.00"]),
    ],
)
def test_each_filter_changes_the_aging(world, params, today):
    query = {
        "collector": {"collector": str(world["cara"].pk)},
        "team": {"team": str(world["south"].pk)},
        "currency": {"currency": "EUR"},
        "segment": {"segment": "Retail"},
    }[params]
    body = data(client_for(world["mia"]), "dashboard-aging", **query)
    assert [dataset["data"][-1] for dataset in body["datasets"]] == today
    assert body["filters"] == query
    # The links keep the filter (the customers' currency is the invoice list's customer_currency).
    link_query = "&".join(f"{'customer_currency' if k == 'currency' else k}={v}" for k, v in query.items())
    assert body["datasets"][2]["links"][-1] == f"/invoices/?band=31-60&{link_query}"


def test_cara_at_the_january_month_end(world):
    body = data(client_for(world["mia"]), "dashboard-aging", collector=str(world["cara"].pk))
    january = body["dates"].index("2026-01-31")
    # A2 500 + E1 1000 × 1.10 current; A1 600 in 1-30. Bolt's B1 and B2 are Dave's.
    assert [d["data"][january] for d in body["datasets"]] == ["1600.00", "600.00", *["0.00"] * 4]
    assert body["totals"][january] == "2200.00"


# (b) KPIs by month ----------------------------------------------------------------------------------------

MONTHS = [end[:7] for end in MONTH_ENDS]


def quiet_month(month: str, days: int) -> dict:
    return {
        "month": month,
        "from": f"{month}-01",
        "to": f"{month}-{days}",
        "days": days,
        "begin_ar": "0.00",
        "credit_sales": "0.00",
        "end_ar": "0.00",
        "end_current_ar": "0.00",
        "dso": None,
        "bpdso": None,
        "cei": None,
    }


def test_kpis_by_month_are_exact(world):
    body = data(client_for(world["mia"]), "dashboard-kpis")
    lengths = [31, 30, 31, 30, 31, 31, 30]  # March to September 2025: no sales, no AR, every figure empty
    months = [quiet_month(month, days) for month, days in zip(MONTHS[:7], lengths, strict=True)]
    months += [
        # October: B1 issued (200) and still open, not yet due. CEI: nothing was collectable (200 − 200).
        {
            **quiet_month("2025-10", 31),
            "credit_sales": "200.00",
            "end_ar": "200.00",
            "end_current_ar": "200.00",
        }
        | {"dso": 31.0, "bpdso": 31.0},  # 200 ÷ 200 × 31
        # November: no sales; B1 is overdue. CEI (200 + 0 − 200) ÷ (200 + 0 − 0) = 0.
        {**quiet_month("2025-11", 30), "begin_ar": "200.00", "end_ar": "200.00", "cei": 0.0},
        # December: A1 issued. DSO 1200 ÷ 1000 × 31 = 37.2; BPDSO 1000 ÷ 1000 × 31; CEI 0 ÷ 200 = 0.
        {
            **quiet_month("2025-12", 31),
            "begin_ar": "200.00",
            "credit_sales": "1000.00",
            "end_ar": "1200.00",
            "end_current_ar": "1000.00",
            "dso": 37.2,
            "bpdso": 31.0,
            "cei": 0.0,
        },
        # January: E1 1000 EUR × 1.10 (issued 01-02) + B2 400 + A2 500 = 2,000 sold; 400 of A1 collected.
        # DSO 2800 ÷ 2000 × 31 = 43.4; BPDSO 2000 ÷ 2000 × 31 = 31; CEI (1200 + 2000 − 2800) ÷ (1200 + 2000 −
        # 2000) × 100 = 400 ÷ 1200 × 100 = 33.333…
        {
            **quiet_month("2026-01", 31),
            "begin_ar": "1200.00",
            "credit_sales": "2000.00",
            "end_ar": "2800.00",
            "end_current_ar": "2000.00",
            "dso": 43.4,
            "bpdso": 31.0,
            "cei": 33.33,
        },
        # February (28 days): Z1 100 sold; B2 paid; E1 revalued to 1,200. DSO 2600 ÷ 100 × 28 = 728;
        # BPDSO 600 ÷ 100 × 28 = 168; CEI (2800 + 100 − 2600) ÷ (2800 + 100 − 600) × 100 = 300 ÷ 2300 × 100
        # = 13.043…
        {
            **quiet_month("2026-02", 28),
            "begin_ar": "2800.00",
            "credit_sales": "100.00",
            "end_ar": "2600.00",
            "end_current_ar": "600.00",
            "dso": 728.0,
            "bpdso": 168.0,
            "cei": 13.04,
        },
    ]
    assert body == {
        **HEAD,
        "labels": MONTHS,
        "datasets": [
            {
                "key": "dso",
                "label": "DSO",
                "unit": "days",
                "data": [month["dso"] for month in months],
                "links": [f"/invoices/?as_of={end}" for end in MONTH_ENDS],
            },
            {
                "key": "bpdso",
                "label": "BPDSO",
                "unit": "days",
                "data": [month["bpdso"] for month in months],
                "links": [f"/invoices/?as_of={end}&band=current" for end in MONTH_ENDS],
            },
            {
                "key": "cei",
                "label": "CEI",
                "unit": "percent",
                "data": [month["cei"] for month in months],
                "links": [f"/invoices/?as_of={end}&overdue=on" for end in MONTH_ENDS],
            },
        ],
        "months": months,
        "filters": {},
    }


@pytest.mark.parametrize("scoped", ["everything", "collector", "team", "currency", "segment"])
def test_every_month_is_what_kpis_reports_for_it(world, scoped):
    scope = {
        "everything": Scope(),
        "collector": Scope(collector_id=world["cara"].pk),
        "team": Scope(team_id=world["south"].pk),
        "currency": Scope(currency="EUR"),
        "segment": Scope(segment="Retail"),
    }[scoped]
    body = dashboard.kpi_trend(scope, TODAY)
    for month in body["months"]:
        report = selectors.kpis(
            start=D.fromisoformat(month["from"]),
            end=D.fromisoformat(month["to"]),
            customer_ids=scope.customer_ids(),
        ).as_dict()
        assert {key: month[key] for key in ("begin_ar", "credit_sales", "end_ar", "end_current_ar")} == {
            key: report[key] for key in ("begin_ar", "credit_sales", "end_ar", "end_current_ar")
        }
        assert (month["dso"], month["bpdso"], month["cei"]) == (report["dso"], report["bpdso"], report["cei"])


def test_kpis_of_cara_customers(world):
    body = data(client_for(world["mia"]), "dashboard-kpis", collector=str(world["cara"].pk))
    december, january, february = body["months"][-3:]
    # December: A1 1000 sold and open: DSO 1000 ÷ 1000 × 31; nothing collectable, so no CEI.
    assert (december["dso"], december["bpdso"], december["cei"]) == (31.0, 31.0, None)
    # January: E1 1,100 + A2 500 sold; end AR A1 600 + A2 500 + E1 1,100 = 2,200, 1,600 current.
    # DSO 2200 ÷ 1600 × 31 = 42.625 → 42.63 (half up); CEI (1000 + 1600 − 2200) ÷ (1000 + 1600 − 1600) = 40.
    assert (january["end_ar"], january["dso"], january["bpdso"], january["cei"]) == (
        "2200.00",
        42.63,
        31.0,
        40.0,
    )
    # February: nothing sold, so no DSO; E1 revalued from 1,100 to 1,200 lifts end AR to 2,300 (500 current):
    # CEI (2200 + 0 − 2300) ÷ (2200 + 0 − 500) × 100 = −5.88, below zero, as the formula says.
    assert (february["end_ar"], february["dso"], february["cei"]) == ("2300.00", None, -5.88)
    assert body["datasets"][0]["links"][-1] == f"/invoices/?as_of=2026-02-28&collector={world['cara'].pk}"


# (c) Collections ----------------------------------------------------------------------------------------

WEEKS = [
    ("2025-W52", "2025-12-22", "2025-12-28"),
    ("2026-W01", "2025-12-29", "2026-01-04"),
    ("2026-W02", "2026-01-05", "2026-01-11"),
    ("2026-W03", "2026-01-12", "2026-01-18"),
    ("2026-W04", "2026-01-19", "2026-01-25"),
    ("2026-W05", "2026-01-26", "2026-02-01"),
    ("2026-W06", "2026-02-02", "2026-02-08"),
    ("2026-W07", "2026-02-09", "2026-02-15"),
    ("2026-W08", "2026-02-16", "2026-02-22"),
    ("2026-W09", "2026-02-23", "2026-03-01"),
    ("2026-W10", "2026-03-02", "2026-03-08"),
    ("2026-W11", "2026-03-09", "2026-03-15"),
    ("2026-W12", "2026-03-16", "2026-03-16"),  # this week, to date
]


def test_collections_per_week_are_exact(world):
    body = data(client_for(world["mia"]), "dashboard-collections")
    # A1's 400 on 01-20 (W04), B2's 400 on 02-20 (W08), Zed's 50 on account on 03-09 (W11).
    amounts = ["0.00"] * 4 + ["400.00"] + ["0.00"] * 3 + ["400.00"] + ["0.00"] * 2 + ["50.00", "0.00"]
    assert body == {
        **HEAD,
        "by": "week",
        "labels": [label for label, _, _ in WEEKS],
        "datasets": [
            {
                "key": "collected",
                "label": "Collected",
                "data": amounts,
                "links": [f"/customers/?paid_from={start}&paid_to={end}" for _, start, end in WEEKS],
            }
        ],
        "periods": [
            {"label": label, "from": start, "to": end, "amount": amount}
            for (label, start, end), amount in zip(WEEKS, amounts, strict=True)
        ],
        "total": "850.00",
        "filters": {},
    }


def test_collections_per_month_and_filtered(world):
    client = client_for(world["mia"])
    body = data(client, "dashboard-collections", by="month")
    assert body["labels"] == [f"2025-{m:02d}" for m in range(4, 13)] + ["2026-01", "2026-02", "2026-03"]
    assert body["datasets"][0]["data"] == ["0.00"] * 9 + ["400.00", "400.00", "50.00"]
    assert body["periods"][-1] == {
        "label": "2026-03",
        "from": "2026-03-01",
        "to": "2026-03-16",
        "amount": "50.00",
    }
    # Dave's team (Bolt): only B2's 400 in February.
    south = data(client, "dashboard-collections", by="month", team=str(world["south"].pk))
    assert south["datasets"][0]["data"] == ["0.00"] * 10 + ["400.00", "0.00"]
    assert south["total"] == "400.00"
    assert south["datasets"][0]["links"][10] == (
        f"/customers/?paid_from=2026-02-01&paid_to=2026-02-28&team={world['south'].pk}"
    )


# Collections against the forecast ---------------------------------------------------------------------------


def test_collections_are_set_against_what_was_forecast_before_each_week(world):
    # Made on Sunday 2026-02-15: its weeks are ISO weeks 8 to 20. Made yesterday: its weeks run from today.
    keep_forecast(D(2026, 2, 15), [f"{100 * (k + 1)}.00" for k in range(13)])
    keep_forecast(D(2026, 3, 15), [f"{30 + k}.00" for k in range(13)])

    body = data(client_for(world["mia"]), "dashboard-outlook")

    past = WEEKS[-8:]  # 2026-W05 … this week to date
    ahead = [D(2026, 3, 23) + dt.timedelta(weeks=k) for k in range(12)]  # week 1 (from today) is this week
    assert body["labels"] == [label for label, _, _ in past] + [f"from {d.isoformat()}" for d in ahead]
    assert body["forecast_made_on"] == "2026-03-15"
    series = {d["key"]: d["data"] for d in body["datasets"]}
    nothing = [None] * 12
    # Collected: B2's 400 on 02-20 (W08), Zed's 50 on 03-09 (W11).
    assert series["collected"] == ["0.00"] * 3 + ["400.00", "0.00", "0.00", "50.00", "0.00"] + nothing
    # Before W05-W07 no forecast was kept; W08-W11 from the 02-15 forecast's weeks 1-4; W12, this week to
    # date, from yesterday's, whose week 1 is this week: 1 day of its 7 so far, 30 × 1/7.
    assert series["forecast_then"] == [None] * 3 + ["100.00", "200.00", "300.00", "400.00", "4.29"] + nothing
    assert series["expected"] == [None] * 8 + [f"{31 + k}.00" for k in range(12)]
    assert series["low"] == [None] * 8 + [f"{21 + k}.00" for k in range(12)]
    assert series["high"] == [None] * 8 + [f"{41 + k}.00" for k in range(12)]
    links = body["datasets"][0]["links"]
    assert links[3] == "/customers/?paid_from=2026-02-16&paid_to=2026-02-22" and links[8:] == nothing


def test_a_filtered_outlook_forecasts_the_scopes_customers_and_sets_nothing_against_the_past(world):
    keep_forecast(D(2026, 3, 15), ["999.00"] * 13)  # every customer's: not the filtered one's
    insights.scores_refresh(actor=None, as_of=TODAY)

    client = client_for(world["mia"])
    body = data(client, "dashboard-outlook", team=str(world["south"].pk))
    live = insights_selectors.cash_forecast(customer_ids=[Customer.objects.get(external_id="BOLT").pk])

    series = {d["key"]: d["data"] for d in body["datasets"]}
    assert series["forecast_then"] == [None] * 21  # 8 weeks, then 13 from tomorrow: made today
    assert series["collected"][:8] == ["0.00"] * 3 + ["400.00"] + ["0.00"] * 4
    assert series["expected"][8:] == [str(w.expected) for w in live.weeks if w.start > TODAY]
    assert len(series["expected"][8:]) == 13
    assert "999.00" not in series["expected"]
    everything = {d["key"]: d["data"] for d in data(client, "dashboard-outlook")["datasets"]}
    assert everything["expected"][8:] == [str(w.expected) for w in insights_selectors.latest_forecast().weeks]


def test_before_any_scoring_the_outlook_shows_collections_alone(world):
    body = data(client_for(world["mia"]), "dashboard-outlook", collector=str(world["cara"].pk))

    assert body["forecast_made_on"] is None and len(body["labels"]) == 8
    assert [d["data"] for d in body["datasets"][1:]] == [[None] * 8] * 4


# (d) Top overdue and (e) overdue by collector -----------------------------------------------------------


def test_top_overdue_customers(world):
    body = data(client_for(world["mia"]), "dashboard-top-overdue")
    pk = {c.external_id: c.pk for c in Customer.objects.all()}
    assert body == {
        **HEAD,
        "rows": [
            row
            | {
                "url": f"/customers/{pk[row['customer']]}/",
                "invoices_url": f"/invoices/?customer={row['customer']}&overdue=on",
            }
            for row in [
                # E1 1000 EUR × 1.20, 43 days past due
                {
                    "customer": "EURO",
                    "name": "Euro GmbH",
                    "collector": "Cara Cole",
                    "overdue": "1200.00",
                    "over_90": "0.00",
                    "total": "1200.00",
                },
                # A2 500 + A1 600; A3 is current
                {
                    "customer": "ACME",
                    "name": "Acme Corp",
                    "collector": "Cara Cole",
                    "overdue": "1100.00",
                    "over_90": "0.00",
                    "total": "1400.00",
                },
                {
                    "customer": "BOLT",
                    "name": "Bolt Retail",
                    "collector": "Dave Diaz",
                    "overdue": "200.00",
                    "over_90": "200.00",
                    "total": "200.00",
                },
                {
                    "customer": "ZED",
                    "name": "Zed Ltd",
                    "collector": None,
                    "overdue": "100.00",
                    "over_90": "0.00",
                    "total": "100.00",
                },
            ]
        ],
        "filters": {},
    }


def test_overdue_by_collector(world):
    cara, dave = world["cara"].pk, world["dave"].pk
    body = data(client_for(world["mia"]), "dashboard-collectors")
    assert body == {
        **HEAD,
        "labels": ["Cara Cole", "Dave Diaz", "No collector"],
        "datasets": [
            {
                "key": "overdue",
                "label": "Overdue",
                "data": ["2300.00", "200.00", "100.00"],  # Acme 1,100 + Euro 1,200; Bolt; Zed
                "links": [
                    f"/customers/?collector={cara}&overdue=on&sort=-overdue",
                    f"/customers/?collector={dave}&overdue=on&sort=-overdue",
                    "/customers/?collector=none&overdue=on&sort=-overdue",
                ],
            }
        ],
        "collectors": [
            {"id": cara, "name": "Cara Cole", "overdue": "2300.00", "customers": 2},
            {"id": dave, "name": "Dave Diaz", "overdue": "200.00", "customers": 1},
            {"id": None, "name": "No collector", "overdue": "100.00", "customers": 1},
        ],
        "filters": {},
    }
    retail = data(client_for(world["mia"]), "dashboard-collectors", segment="Retail")
    # Retail is Euro (Cara) and Bolt (Dave).
    assert retail["labels"] == ["Cara Cole", "Dave Diaz"]
    assert retail["datasets"][0]["data"] == ["1200.00", "200.00"]
    assert (
        retail["datasets"][0]["links"][0]
        == f"/customers/?collector={cara}&overdue=on&sort=-overdue&segment=Retail"
    )


# (f) Promises and disputes ------------------------------------------------------------------------------


def test_promise_and_dispute_figures(world):
    body = data(client_for(world["mia"]), "dashboard-figures")
    pk = {c.external_id: c.pk for c in Customer.objects.all()}
    assert body == {
        **HEAD,
        "promises": {
            "pending": 2,
            "pending_amount": "1200.00",  # Acme 600 + Euro 500 EUR × 1.20
            "due_in_7_days": 1,  # Acme's, on 03-20
            "past_their_date": 1,  # Euro's, 03-12, awaiting evaluation
            "kept_rate": 50.0,  # Bolt's kept, Zed's broken
            "came_due": 2,
            "kept": 1,
            "since": "2025-12-17",
            "list": [
                {
                    "customer": "EURO",
                    "name": "Euro GmbH",
                    "amount": "500.00",
                    "currency": "EUR",
                    "promised_date": "2026-03-12",
                    "url": f"/customers/{pk['EURO']}/",
                },
                {
                    "customer": "ACME",
                    "name": "Acme Corp",
                    "amount": "600.00",
                    "currency": "USD",
                    "promised_date": "2026-03-20",
                    "url": f"/customers/{pk['ACME']}/",
                },
            ],
        },
        "disputes": {
            "as_of": "2026-03-16",
            "period": {"from": "2025-12-17", "to": "2026-03-16"},
            "currency": "USD",
            "resolved": 0,
            "cycle_time_mean_days": None,
            "cycle_time_median_days": None,
            "sla_hit_rate": None,
            "open": 1,
            "open_by_reason": {"Pricing": 1},
            "open_by_age": {"0–7 days": 0, "8–30 days": 1, "31–60 days": 0, "over 60 days": 0},  # 11 days
            "overdue_ar": "2600.00",
            "overdue_disputed": "200.00",  # of A2, due 2026-03-01
            "overdue_disputed_share": 7.69,  # 200 ÷ 2600
            "links": {
                "open": "/disputes/",
                "sla_overdue": "/disputes/?sla=overdue",
                "resolved": "/disputes/?status=resolved",
            },
        },
        "filters": {},
    }
    cara = data(client_for(world["mia"]), "dashboard-figures", collector=str(world["cara"].pk))
    # Cara's customers: both pending promises, but neither evaluated one; Acme's dispute, against the
    # overdue AR of Acme (1,100.00) and Euro (1,000 EUR × 1.20).
    assert (cara["promises"]["pending"], cara["promises"]["kept_rate"]) == (2, None)
    disputed = ("open", "overdue_ar", "overdue_disputed", "overdue_disputed_share")
    assert [cara["disputes"][key] for key in disputed] == [1, "2300.00", "200.00", 8.7]
    retail = data(client_for(world["mia"]), "dashboard-figures", segment="Retail")  # Bolt and Euro
    assert [retail["disputes"][key] for key in disputed] == [0, "1400.00", "0.00", 0.0]
    assert retail["disputes"]["open_by_reason"] == {}
    eur = data(client_for(world["mia"]), "dashboard-figures", currency="EUR")
    assert (eur["promises"]["pending"], eur["promises"]["pending_amount"]) == (1, "600.00")


# Bad filters, roles, the htmx body ----------------------------------------------------------------------

BAD = [
    (
        {"collector": "999"},
        {"collector": ["Select a valid choice. That choice is not one of the available choices."]},
    ),
    (
        {"collector": "cara"},
        {"collector": ["Select a valid choice. That choice is not one of the available choices."]},
    ),
    ({"team": "0"}, {"team": ["Select a valid choice. That choice is not one of the available choices."]}),
    ({"currency": "GBP"}, {"currency": ["Select a valid choice. GBP is not one of the available choices."]}),
    (
        {"segment": "Wholesale"},
        {"segment": ["Select a valid choice. Wholesale is not one of the available choices."]},
    ),
    ({"by": "day"}, {"by": ["Select a valid choice. day is not one of the available choices."]}),
]


@pytest.mark.parametrize("name", ENDPOINTS)
@pytest.mark.parametrize(("params", "errors"), BAD)
def test_a_bad_filter_is_a_400_naming_the_field(world, name, params, errors):
    with CaptureQueriesContext(connection) as captured:
        response = client_for(world["mia"]).get(reverse(name), params)
    assert (response.status_code, response.json()) == (400, errors)
    # Nothing was computed: session, user and the one lookup of the value refused.
    assert not any("ledger_invoice" in query["sql"] for query in captured.captured_queries)


def test_a_bad_filter_on_the_page_says_which_and_draws_nothing(world):
    response = client_for(world["mia"]).get(reverse("dashboard"), {"segment": "Wholesale", "team": "x"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Segment: Select a valid choice. Wholesale is not one of the available choices." in page
    assert "Team: Select a valid choice. That choice is not one of the available choices." in page
    assert "data-chart-url" not in page


def test_a_missing_rate_is_a_400_that_says_which(world):
    from recoup.ledger.models import FxRate

    FxRate.objects.filter(currency="EUR").delete()
    client = client_for(world["mia"])
    response = client.get(reverse("dashboard-top-overdue"))
    assert (response.status_code, response.json()) == (
        400,
        {"as_of": ["No EUR→USD rate is dated on or before 2026-03-16."]},
    )
    # The page says which, and draws nothing: the first month-end it stores with EUR AR open has no rate.
    page = client.get(reverse("dashboard"))
    assert page.status_code == 200
    notice = '<p class="notice notice-warn" id="dashboard-error">'
    assert f"{notice}No EUR→USD rate is dated on or before 2026-01-31.</p>" in page.content.decode()
    assert "data-chart-url" not in page.content.decode()


@pytest.mark.parametrize("name", ["dashboard", *ENDPOINTS])
def test_anonymous_is_sent_to_log_in_or_refused_in_json(world, name):
    url = reverse(name)
    response = Client().get(url)
    if name == "dashboard":
        assert (response.status_code, response["Location"]) == (302, f"{reverse('login')}?next={url}")
    else:
        assert (response.status_code, response.json()) == (403, {"detail": "Log in to read the dashboard."})


def test_an_inactive_user_is_refused(world):
    world["mia"].is_active = False
    world["mia"].save()
    client = Client()
    client.force_login(world["mia"])
    assert client.get(reverse("dashboard-aging")).status_code == 403


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_dashboard_and_its_data(world, make_user, role):
    client = client_for(make_user(role))
    assert client.get(reverse("dashboard")).status_code == 200
    for name in ENDPOINTS:
        assert client.get(reverse(name)).status_code == 200, name
    assert data(client, "dashboard-aging")["totals"][-1] == "2900.00"


def test_the_home_page_is_the_dashboard_and_the_nav_links_it(world):
    client = client_for(world["mia"])
    assert client.get("/")["Location"] == reverse("dashboard")
    page = client.get(reverse("dashboard")).content.decode()
    assert '<a href="/dashboard/" aria-current="page">Dashboard</a>' in page


def test_htmx_gets_the_body_only_with_the_filter_in_every_chart_url(world):
    client = client_for(world["mia"])
    cara = world["cara"].pk
    response = client.get(
        reverse("dashboard"), {"collector": str(cara), "by": "month"}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body and 'id="dashboard-filters"' not in body and "<script" not in body
    assert re.findall(r'data-chart-url="([^"]+)"', body) == [
        f"/dashboard/data/aging/?collector={cara}",
        f"/dashboard/data/kpis/?collector={cara}",
        f"/dashboard/data/collections/?collector={cara}&amp;by=month",
        f"/dashboard/data/outlook/?collector={cara}",
        f"/dashboard/data/overdue-by-collector/?collector={cara}",
    ]
    # The collections toggle keeps the filter; the hidden `by` joins the filter bar's form.
    assert f'href="/dashboard/?collector={cara}" hx-get=' in body
    assert response["HX-Push-Url"] == f"/dashboard/?collector={cara}&by=month"
    assert '<input type="hidden" name="by" value="month" form="dashboard-filters" id="dashboard-by">' in body


def test_the_page_has_the_filter_bar_the_figures_and_the_tables(world):
    client = client_for(world["mia"])
    response = client.get(reverse("dashboard"))
    page = response.content.decode()
    # No inline script: Chart.js and dashboard.js come from files, deferred.
    assert re.findall(r"<script[^>]*>", page) == [
        '<script src="/static/vendor/htmx.org/dist/htmx.min.js" defer>',
        '<script src="/static/vendor/chart.js/dist/chart.umd.min.js" defer>',
        '<script src="/static/reports/dashboard.js" defer>',
    ]
    assert 'hx-get="/dashboard/" hx-target="#dashboard-body"' in page and 'hx-push-url="true"' in page
    form = response.context["form"]
    assert [label for _, label in form.fields["collector"].choices] == [
        "All collectors",
        "Cara Cole",
        "Dave Diaz",
    ]
    assert [label for _, label in form.fields["team"].choices] == ["All teams", "North", "South"]
    assert [value for value, _ in form.fields["currency"].choices] == ["", "EUR", "USD"]
    assert [value for value, _ in form.fields["segment"].choices] == ["", "Enterprise", "Retail"]
    found = tables(response)
    assert found["top-overdue"] == [
        ["Euro GmbH EURO", "Cara Cole", "1,200.00", "0.00", "1,200.00"],
        ["Acme Corp ACME", "Cara Cole", "1,100.00", "0.00", "1,400.00"],
        ["Bolt Retail BOLT", "Dave Diaz", "200.00", "200.00", "200.00"],
        ["Zed Ltd ZED", "—", "100.00", "0.00", "100.00"],
    ]
    assert found["pending-promises"] == [
        ["Euro GmbH", "2026-03-12", "500.00 EUR"],
        ["Acme Corp", "2026-03-20", "600.00 USD"],
    ]
    strip = re.sub(
        r"\s+", " ", re.sub(r"<[^>]+>", " ", page.split('id="dash-figures"')[1].split("</section>")[0])
    )
    assert "Open AR 2,900.00 USD" in strip and "Overdue 2,600.00 USD" in strip
    assert "Over 90 days 200.00 USD 6.90% of open AR" in strip
    assert "Pending promises 2 · 1,200.00 USD 1 due in 7 days · 1 past their date" in strip
    assert "Promise kept rate 50% 1 of 2 due since 2025-12-17" in strip
    assert "Open disputes 1 7.69% of overdue AR disputed" in strip
    assert 'href="/invoices/?due_to=2025-12-15" id="figure-over-90"' in page
    assert '<td class="date overdue">2026-03-12</td>' in page  # Euro's promise is past its date


def test_each_kpi_states_its_formula_and_cei_is_not_divided_by_months(world):
    page = client_for(world["mia"]).get(reverse("dashboard")).content.decode()
    how = page.split('id="how-kpis"')[1].split("</details>")[0]
    assert "DSO</strong> = end AR ÷ credit sales × days in the month" in how
    assert "BPDSO</strong> = end current AR ÷ credit sales × days in the month" in how
    assert "CEI is not divided by the number of months." in how
    # The definitions on the page are the ones docs/reports.md gives.
    docs = (Path(__file__).resolve().parents[3] / "docs" / "reports.md").read_text()
    formulas = dict(re.findall(r'<th scope="row">([^<]+)</th><td class="formula">([^<]+)', page))
    assert formulas == {
        "DSO": "end AR ÷ credit sales × days",
        "BPDSO": "end current AR ÷ credit sales × days",
        "CEI": "(begin AR + credit sales − end AR) ÷ (begin AR + credit sales − end current AR) × 100 ",
        "% over 90 days": "AR over 90 days ÷ end AR × 100",
        "promise kept rate": "kept ÷ promises that have come due",
        "dispute cycle time": "resolved − opened",
    }
    for kpi in ("DSO", "BPDSO", "CEI", "% over 90 days"):
        assert f"| {formulas[kpi].strip()} |" in docs, kpi
    assert "**CEI is not divided by a number of months.**" in docs


def test_dispute_figures_follow_the_filter_and_say_the_queue_does_not(world):
    client = client_for(world["mia"])
    everything = client.get(reverse("dashboard")).content.decode()
    retail = client.get(reverse("dashboard"), {"segment": "Retail"}).content.decode()

    assert 'id="disputes-filtered"' not in everything
    assert "The disputes of the filter's customers; the queue lists every dispute you may see." in retail
    open_disputes = r'Open disputes</span>\s*<span class="stat-value">(\d+)<'  # the figures strip
    assert re.findall(open_disputes, everything) == ["1"]
    assert re.findall(open_disputes, retail) == ["0"]


# Drill-downs: the links open the rows behind the figure -------------------------------------------------


def test_aging_segments_open_the_invoices_in_that_bucket_on_that_day(world):
    client = client_for(world["mia"])
    body = data(client, "dashboard-aging")
    buckets = {d["key"]: d for d in body["datasets"]}
    today, january, february = -1, body["dates"].index("2026-01-31"), body["dates"].index("2026-02-28")
    assert follow(client, buckets["31-60"]["links"][today]) == [
        ["E1", "Euro GmbH", "2026-01-02", "2026-02-01", "43", "1,000.00 EUR", "1,000.00 EUR", "Overdue"]
    ]
    # On 2026-01-31 A1 had 600 left, 21 days past due: the column is its open amount then.
    response = client.get(buckets["1-30"]["links"][january])
    assert "Open on 2026-01-31" in response.content.decode()
    assert tables(response)["invoices"] == [
        ["A1", "Acme Corp", "2025-12-11", "2026-01-10", "21", "1,000.00 USD", "600.00 USD", "Overdue"]
    ]
    # Not yet due on 2026-01-31: E1, B2 (paid since) and A2, by due date.
    assert [row[0] for row in follow(client, buckets["current"]["links"][january])] == ["E1", "B2", "A2"]
    assert [row[6] for row in follow(client, buckets["31-60"]["links"][february])] == ["600.00 USD"]
    assert follow(client, buckets["120+"]["links"][today])[0][0] == "B1"
    assert follow(client, buckets["91-120"]["links"][today]) == [["No invoices match these filters."]]


def test_filtered_links_open_only_the_filtered_customers_invoices(world):
    client = client_for(world["mia"])
    retail = data(client, "dashboard-aging", segment="Retail")
    december = retail["dates"].index("2025-12-31")
    assert [row[0] for row in follow(client, retail["datasets"][2]["links"][december])] == ["B1"]  # not A1
    eur = data(client, "dashboard-aging", currency="EUR")
    assert [row[0] for row in follow(client, eur["datasets"][2]["links"][-1])] == ["E1"]
    south = data(client, "dashboard-aging", team=str(world["south"].pk))
    response = client.get(south["datasets"][5]["links"][-1])
    assert [row[0] for row in tables(response)["invoices"]] == ["B1"]
    assert '<span class="chip-what">Team</span> South' in response.content.decode()


def test_kpi_points_open_the_invoices_behind_them(world):
    client = client_for(world["mia"])
    body = {d["key"]: d["links"] for d in data(client, "dashboard-kpis")["datasets"]}
    # February's end AR: B1, A1, E1, A2, Z1 (by due date), 2,600.00 in all.
    assert [row[0] for row in follow(client, body["dso"][-1])] == ["B1", "A1", "E1", "A2", "Z1"]
    assert [row[0] for row in follow(client, body["bpdso"][-1])] == ["A2", "Z1"]  # current on 02-28
    assert [row[0] for row in follow(client, body["cei"][-1])] == ["B1", "A1", "E1"]  # overdue on 02-28


def test_collector_bars_open_their_overdue_customers(world):
    client = client_for(world["mia"])
    links = data(client, "dashboard-collectors")["datasets"][0]["links"]
    # Sorted by overdue in each customer's currency: Acme 1,100.00 USD, Euro 1,000.00 EUR.
    response = client.get(links[0])
    assert [row[1] for row in tables(response)["customers"]] == ["Acme Corp", "Euro GmbH"]
    page = response.content.decode()
    assert '<span class="chip-what">Collector</span> Cara Cole' in page
    assert '<span class="chip-what">Overdue</span> only customers with overdue invoices' in page
    assert [row[1] for row in follow(client, links[1])] == ["Bolt Retail"]
    assert [row[1] for row in follow(client, links[2])] == ["Zed Ltd"]


def test_collection_bars_open_the_customers_who_paid(world):
    client = client_for(world["mia"])
    links = data(client, "dashboard-collections")["datasets"][0]["links"]
    assert [row[1] for row in follow(client, links[4])] == ["Acme Corp"]  # 2026-W04
    assert [row[1] for row in follow(client, links[8])] == ["Bolt Retail"]  # 2026-W08
    assert [row[1] for row in follow(client, links[11])] == ["Zed Ltd"]  # on account, 2026-W11
    assert follow(client, links[0]) == [["No customers."]]


def test_top_overdue_and_figures_link_to_their_rows(world):
    client = client_for(world["mia"])
    rows = data(client, "dashboard-top-overdue")["rows"]
    acme = client.get(rows[1]["url"])
    assert acme.status_code == 200 and acme.context["customer"].external_id == "ACME"
    assert [row[0] for row in follow(client, rows[1]["invoices_url"])] == ["A1", "A2"]
    page = client.get(reverse("dashboard"))
    links = page.context["receivables"]["links"]
    assert [row[0] for row in follow(client, links["open"])] == ["B1", "A1", "E1", "A2", "Z1", "A3"]
    assert [row[0] for row in follow(client, links["overdue"])] == ["B1", "A1", "E1", "A2", "Z1"]
    assert [row[0] for row in follow(client, links["over_90"])] == ["B1"]
    disputes_page = client.get(page.context["disputes"]["links"]["open"])
    assert disputes_page.status_code == 200 and len(disputes_page.context["disputes"]) == 1


def test_customer_list_filters_keep_each_other_and_refuse_nonsense(world):
    client = client_for(world["mia"])
    cara = world["cara"].pk
    response = client.get(reverse("customer-list"), {"collector": str(cara), "currency": "eur"})
    assert [row[1] for row in tables(response)["customers"]] == ["Euro GmbH"]
    page = response.content.decode()
    # Search and sort keep the filter.
    assert f'<input type="hidden" name="collector" value="{cara}" id="id_collector">' in page
    assert f'href="?collector={cara}&amp;currency=eur&amp;sort=name"' in page
    searched = client.get(reverse("customer-list"), {"collector": str(cara), "q": "acme"})
    assert [row[1] for row in tables(searched)["customers"]] == ["Acme Corp"]
    assert [row[1] for row in follow(client, f"/customers/?team={world['north'].pk}&segment=Retail")] == [
        "Euro GmbH"
    ]
    bad = client.get(
        reverse("customer-list"), {"collector": "cara", "paid_from": "2026-03-01", "paid_to": "2026-02-01"}
    )
    text = bad.content.decode()
    assert "collector: Name a collector by id, or “none” for customers without one." in text
    assert "paid_to: The end of the range is before its start." in text
    assert tables(bad)["customers"] == [["No customers."]]


def test_invoice_list_refuses_a_future_as_of(world):
    response = client_for(world["mia"]).get(reverse("invoice-list"), {"as_of": "2026-03-17"})
    assert "Open on: Choose today or a past date." in response.content.decode()
    assert tables(response)["invoices"] == [["No invoices match these filters."]]


# Query counts ---------------------------------------------------------------------------------------------


def query_counts(client: Client, **params: str) -> dict[str, int]:
    counts = {}
    for name in [*ENDPOINTS, "dashboard"]:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse(name), params).status_code == 200
        counts[name] = len(captured)
    return counts


def grow(world, n: int) -> None:
    """n more customers, each with three invoices (one paid), a pending promise, spread over both collectors
    and segments."""
    books = world["books"]
    for i in range(n):
        customer = books.customer(
            f"MORE-{i:03d}",
            collector=(world["cara"], world["dave"], None)[i % 3],
            segment=("Retail", "Enterprise", "")[i % 3],
        )
        for months in (1, 2, 3):
            invoice = books.invoice(customer, TODAY - dt.timedelta(days=30 * months - i), f"{10 + i}.00")
        books.pay(invoice, f"{10 + i}.00", TODAY - dt.timedelta(days=5))
        activity.promise_create(actor=None, customer=customer, amount="5.00", promised_date=TODAY)


def forget_snapshots() -> None:
    """As if the month-ends had never been stored: the next dashboard builds them from the ledger."""
    AgingSnapshot.objects.all().delete()
    AgingSnapshotMonth.objects.all().delete()


@pytest.mark.parametrize("filtered", [False, True])
def test_queries_do_not_grow_with_the_ledger(world, filtered, django_assert_max_num_queries):
    client = client_for(world["mia"])
    params = {"collector": str(world["cara"].pk), "segment": "Retail"} if filtered else {}
    cold_small = query_counts(client, **params)  # the first look builds the 13 month-end snapshots
    warm_small = query_counts(client, **params)
    before = data(client, "dashboard-aging", **params)["totals"]
    grow(world, 45)
    forget_snapshots()
    cold_large = query_counts(client, **params)
    assert data(client, "dashboard-aging", **params)["totals"][-2] != before[-2]  # the new rows count
    warm_large = query_counts(client, **params)
    assert (cold_large, warm_large) == (cold_small, warm_small)
    # Per request, with the month-ends stored: session and user; the scope's ids (when filtered); 2 queries
    # for the stored month-ends; an aging report is 3 (5 on PostgreSQL: a savepoint around its SET LOCAL);
    # the KPIs add the sales GROUP BY and 2 rate queries. The page adds the promise and dispute figures,
    # reminder effectiveness (3, and the scope's ids again when filtered) and the filter bar's choices. The
    # first look also builds the month-ends: a fixed number of queries each.
    postgres = connection.vendor == "postgresql"
    for name, count in warm_large.items():
        budget = (40 if postgres else 34) if name == "dashboard" else (22 if postgres else 18)
        with django_assert_max_num_queries(budget):
            client.get(reverse(name), params)
        assert count <= budget, name
    assert cold_large["dashboard-aging"] <= 110
    print(connection.vendor, "filtered" if filtered else "everything", "cold", cold_large, "warm", warm_large)
    print("total warm", sum(warm_large.values()), "cold", sum(cold_large.values()))


# Today's aging, computed once -----------------------------------------------------------------------------

AGED = "JOIN ledger_customer c ON c.id = g.customer_id"  # the aging report's query


def read(client: Client, name: str) -> tuple[dict, bool]:
    """An endpoint's body, and whether the request aged the ledger."""
    with CaptureQueriesContext(connection) as captured:
        body = data(client, name)
    return body, any(AGED in query["sql"] for query in captured.captured_queries)


@pytest.mark.django_db(transaction=True)  # requests in autocommit, as they run
def test_the_endpoints_age_today_once_and_again_after_a_payment(world):
    client = client_for(world["mia"])
    alone = {}
    for name in ENDPOINTS:
        kept.forget()
        alone[name] = data(client, name)  # each endpoint computing what it needs itself
    kept.forget()

    together = {name: read(client, name) for name in ENDPOINTS}

    assert [name for name, (_, aged) in together.items() if aged] == ["dashboard-aging"]
    assert {name: body for name, (body, _) in together.items()} == alone
    euro = Customer.objects.get(external_id="EURO")
    services.payment_create(
        actor=None,
        customer=euro,
        external_id="EURO-PAY",
        date=TODAY,
        amount=Decimal("500.00"),
        apply_to=[services.Application(Invoice.objects.get(external_id="E1"), Decimal("500.00"))],
    )
    body, aged = read(client, "dashboard-top-overdue")
    assert aged
    # Euro's E1: 500 EUR left × 1.20 = 600.00 overdue, down from 1,200.00.
    assert [(row["customer"], row["overdue"]) for row in body["rows"]] == [
        ("ACME", "1100.00"),
        ("EURO", "600.00"),
        ("BOLT", "200.00"),
        ("ZED", "100.00"),
    ]


SALES = 'SUM("ledger_invoice"."amount")'  # the credit sales per currency and day


@pytest.mark.django_db(transaction=True)  # requests in autocommit, as they run
def test_the_months_credit_sales_are_kept_until_an_invoice_is_dated_in_them(world, books):
    client = client_for(world["mia"])
    kept.forget()

    def sales_read() -> tuple[list, bool]:
        with CaptureQueriesContext(connection) as captured:
            body = data(client, "dashboard-kpis")
        summed = any(SALES in query["sql"] for query in captured.captured_queries)
        return [month["credit_sales"] for month in body["months"]], summed

    first, summed_first = sales_read()
    again, summed_again = sales_read()
    acme = Customer.objects.get(external_id="ACME")
    books.invoice(acme, TODAY + dt.timedelta(days=30), "70.00")  # issued today: no closed month
    today, summed_today = sales_read()
    books.invoice(acme, D(2026, 3, 10), "30.00")  # issued 2026-02-08, in February
    february, summed_february = sales_read()

    assert (summed_first, summed_again, summed_today, summed_february) == (True, False, False, True)
    assert first == again == today
    # January: A2 500.00, B2 400.00 and E1 1,000 EUR at 1.10; February: Z1 100.00 (the last 2 of 12 months).
    assert first[-2:] == ["2000.00", "100.00"]
    assert february[-2:] == ["2000.00", "130.00"]


# Downloads --------------------------------------------------------------------------------------------------


def download_links(html: str, id: str) -> list[str]:
    [paragraph] = re.findall(rf'<p class="downloads small" id="downloads-{id}">(.*?)</p>', html, re.S)
    return [link.replace("&amp;", "&") for link in re.findall(r'href="([^"]+)" download', paragraph)]


def test_each_report_on_the_dashboard_downloads_with_its_filters(world):
    client = client_for(world["mia"])
    html = client.get(reverse("dashboard"), {"segment": "Retail"}).content.decode()
    panel = client.get(
        reverse("dashboard-collector-activity-panel"), {"segment": "Retail", "from": "2026-02-01"}
    ).content.decode()

    links = {id: download_links(html, id) for id in ("aging", "aging-trend", "kpis", "reminders", "disputes")}
    links["collector-activity"] = download_links(panel, "collector-activity")

    assert links == {
        "aging": [f"/reports/export/aging.{fmt}?segment=Retail" for fmt in ("csv", "xlsx", "pdf")],
        "aging-trend": [
            f"/reports/export/aging-trend.{fmt}?segment=Retail&months=12" for fmt in ("csv", "xlsx", "pdf")
        ],
        "kpis": [
            f"/reports/export/kpis.{fmt}?segment=Retail&from=2025-03-01&to=2026-02-28"
            for fmt in ("csv", "xlsx", "pdf")
        ],
        "reminders": [f"/reports/export/reminders.{fmt}?segment=Retail" for fmt in ("csv", "xlsx", "pdf")],
        "disputes": [f"/reports/export/disputes.{fmt}?segment=Retail" for fmt in ("csv", "xlsx", "pdf")],
        "collector-activity": [
            f"/reports/export/collectors.{fmt}?segment=Retail&from=2026-02-01&to=2026-03-16"
            for fmt in ("csv", "xlsx", "pdf")
        ],
    }
    # Each CSV is that report for the Retail customers (Bolt and Euro): the aging's lines name them only.
    aging_csv = client.get(links["aging"][0])
    assert aging_csv.status_code == 200
    assert [line.split(",")[0] for line in aging_csv.content.decode().splitlines()] == [
        "Customer",
        "BOLT",
        "EURO",
        "TOTAL",
    ]
    for urls in links.values():
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (url, response.content)
            assert response["Content-Disposition"].startswith('attachment; filename="')
