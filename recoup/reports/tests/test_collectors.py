"""Collector activity (recoup.reports.collectors): every figure of a hand-built ledger worked out by hand, the
filters, the constant number of queries, the DSO against selectors.kpis, and the dashboard's endpoint, its
table and the API.

Today is Monday 2026-03-16; TIME_ZONE Europe/Berlin (UTC+1 in February). Base currency USD; EUR→USD 1.10 from
2026-01-01, 1.20 from 2026-02-15. The period is February 2026 (28 days). Each invoice is issued 30 days
before its due date.

| customer | collector | cur | invoice | issued     | amount   | payments                                 |
|----------|-----------|-----|---------|------------|----------|------------------------------------------|
| ACME     | Cara      | USD | A1      | 2026-01-11 | 1000     | 400 on 02-05 (in), 300 on 03-02 (after)  |
|          |           |     | A2      | 2026-02-03 |  500     | —                                        |
| EURO     | Cara      | EUR | E1      | 2026-01-30 | 1000 EUR | 200 EUR on 02-20 (in, × 1.20 = 240.00)   |
|          |           |     | E2      | 2026-02-15 |  100 EUR | —                                        |
| BOLT     | Dave      | USD | B1      | 2026-01-21 |  600     | 100 on 01-31 (before), 500 on 02-25 (in) |
|          |           |     | B2      | 2026-02-23 |  300     | —                                        |
| ZED      | nobody    | USD | Z1      | 2026-02-08 |  200     | 80 on account on 02-12 (in, unapplied)   |

collected (payments dated in February): Cara 400 + 240 = 640.00; Dave 500.00; nobody 80.00; total 1,220.00.
credit sales (issued in February): Cara A2 500 + E2 100 × 1.20 = 620.00; Dave 300.00; nobody 200.00; 1,120.00.
end AR (open at the end of 02-28, EUR at 1.20): Cara A1 600 + A2 500 + E1 800 × 1.20 + E2 120 = 2,180.00;
  Dave B2 300.00 (B1 settled); nobody Z1 200.00 (the 80 on account is credit, not netted); total 2,680.00.
DSO = end AR ÷ credit sales × 28: Cara 2180 ÷ 620 × 28 = 98.4516…; Dave 28; nobody 28; total 67.

Touches in February (local days):
- Cara: calls on ACME 02-03 and on Dave's BOLT 02-14, and on ACME at 2026-01-31 23:30 UTC (02-01 00:30 in
  Berlin: in); not her call at 2026-02-28 23:30 UTC (03-01 in Berlin); a note on EURO; an email sent by hand
  to ACME; not her failed email, nor the dunning reminder sent to ACME → 3 calls + 1 note + 1 email = 5.
- Dave: a call on BOLT, notes on BOLT 02-21 and 02-22 (not his note of 03-03) → 3.
- Mia (a manager, nobody's collector): a note on ACME → 1.
- nobody: a call logged without a person, on ZED → 1. Total 10.

Promises (made on, promised for, outcome):
- Cara's: 02-03 → 02-10 kept; 02-05 (EURO) → 02-20 broken; 02-25 → 03-05 pending; 01-20 → 02-15 kept; 02-10
  → 02-26 cancelled. Made in February: 3 (not the January one, not the cancelled one). Came due in
  February: 02-10, 02-20, 02-15 → 2 kept of 3 = 66.67 %.
- Dave's: 02-21 → 02-27 partly kept → made 1; 0 kept of 1 = 0 %.
- Nobody's (ZED has no collector, recorded by no one): 02-09 → 02-12 broken → made 1; 0 of 1.
- Total: made 5; 2 kept of 5 = 40 %.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from recoup.activity import services as activity
from recoup.activity.models import Call, Promise, PromiseStatus
from recoup.dunning.models import Channel, DunningLevel, MessageStatus, OutboundMessage
from recoup.ledger import services
from recoup.ledger.models import Customer
from recoup.ledger.tests.test_views import tables
from recoup.reports import selectors
from recoup.reports.collectors import collector_activity
from recoup.reports.scope import Scope
from recoup.users.models import Role, Team, User
from recoup.users.services import token_create

pytestmark = pytest.mark.django_db
D = dt.date
FEB = {"start": D(2026, 2, 1), "end": D(2026, 2, 28)}
BERLIN = ZoneInfo("Europe/Berlin")
UTC = dt.UTC


@pytest.fixture(autouse=True)
def clock(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    with time_machine.travel(dt.datetime(2026, 3, 16, 12, 0, tzinfo=UTC), tick=False):
        yield


def at(day: str, hour: int = 10, minute: int = 0, tz: dt.tzinfo = BERLIN) -> dt.datetime:
    return dt.datetime.combine(D.fromisoformat(day), dt.time(hour, minute), tzinfo=tz)


def note(actor, customer, when: dt.datetime) -> None:
    with time_machine.travel(when, tick=False):
        activity.note_add(actor=actor, customer=customer, body="Spoke about the statement.")


def email(customer, author, when: dt.datetime, status=MessageStatus.SENT, level=None, key="") -> None:
    OutboundMessage.objects.create(
        customer=customer,
        level=level,
        author=author,
        request_key=key,
        channel=Channel.EMAIL,
        as_of=when.date(),
        send_at=when,
        sent_at=when if status == MessageStatus.SENT else None,
        status=status,
        subject="Your account",
    )


def promise(actor, customer, made: str, due: str, status: str) -> None:
    made_on = D.fromisoformat(made)
    created = activity.promise_create(
        actor=actor, customer=customer, amount="100.00", promised_date=D.fromisoformat(due), made_on=made_on
    )
    # No service evaluates promises yet (the activity issue): their outcome is set as that one would.
    Promise.objects.filter(pk=created.pk).update(status=status)


@pytest.fixture
def world(books, settings):
    settings.BASE_CURRENCY = "USD"
    north, south = Team.objects.create(name="North"), Team.objects.create(name="South")
    cara = User.objects.create_user(
        username="cara", password="pw", role=Role.COLLECTOR, team=north, first_name="Cara", last_name="Cole"
    )
    dave = User.objects.create_user(
        username="dave", password="pw", role=Role.COLLECTOR, team=south, first_name="Dave", last_name="Diaz"
    )
    mia = User.objects.create_user(username="mia", password="pw", role=Role.MANAGER)
    for date, rate in ((D(2026, 1, 1), "1.10"), (D(2026, 2, 15), "1.20")):
        services.fx_rate_set(actor=None, currency="EUR", date=date, rate=Decimal(rate))
    acme = books.customer("ACME", name="Acme Corp", collector=cara, segment="Enterprise")
    euro = books.customer("EURO", name="Euro GmbH", currency="EUR", collector=cara, segment="Retail")
    bolt = books.customer("BOLT", name="Bolt Retail", collector=dave, segment="Retail")
    zed = books.customer("ZED", name="Zed Ltd")
    a1 = books.invoice(acme, D(2026, 2, 10), "1000.00", external_id="A1")
    books.invoice(acme, D(2026, 3, 5), "500.00", external_id="A2")
    e1 = books.invoice(euro, D(2026, 3, 1), "1000.00", external_id="E1")
    books.invoice(euro, D(2026, 3, 17), "100.00", external_id="E2")
    b1 = books.invoice(bolt, D(2026, 2, 20), "600.00", external_id="B1")
    books.invoice(bolt, D(2026, 3, 25), "300.00", external_id="B2")
    books.invoice(zed, D(2026, 3, 10), "200.00", external_id="Z1")
    books.pay(a1, "400.00", D(2026, 2, 5))
    books.pay(a1, "300.00", D(2026, 3, 2))
    books.pay(e1, "200.00", D(2026, 2, 20))
    books.pay(b1, "100.00", D(2026, 1, 31))
    books.pay(b1, "500.00", D(2026, 2, 25))
    services.payment_create(
        actor=None, customer=zed, external_id="ON-ACCOUNT", date=D(2026, 2, 12), amount=Decimal("80.00")
    )

    def call(actor, customer, when: dt.datetime) -> None:
        activity.call_log(actor=actor, customer=customer, outcome="reached", called_at=when)

    call(cara, acme, at("2026-02-03"))
    call(cara, bolt, at("2026-02-14"))
    call(cara, acme, at("2026-01-31", 23, 30, UTC))  # 02-01 00:30 in Berlin: in the period
    call(cara, acme, at("2026-02-28", 23, 30, UTC))  # 03-01 00:30 in Berlin: after it
    call(dave, bolt, at("2026-02-20"))
    call(None, zed, at("2026-02-11"))
    note(cara, euro, at("2026-02-06"))
    note(dave, bolt, at("2026-02-21"))
    note(dave, bolt, at("2026-02-22"))
    note(dave, bolt, at("2026-03-03"))
    note(mia, acme, at("2026-02-27"))
    email(acme, cara, at("2026-02-04"), key="manual-1")
    email(euro, cara, at("2026-02-05"), status=MessageStatus.FAILED, key="manual-2")
    email(acme, None, at("2026-02-06"), level=DunningLevel.objects.order_by("pk").first())
    promise(cara, acme, "2026-02-03", "2026-02-10", PromiseStatus.KEPT)
    promise(cara, euro, "2026-02-05", "2026-02-20", PromiseStatus.BROKEN)
    promise(cara, acme, "2026-02-25", "2026-03-05", PromiseStatus.PENDING)
    promise(cara, acme, "2026-01-20", "2026-02-15", PromiseStatus.KEPT)
    promise(cara, acme, "2026-02-10", "2026-02-26", PromiseStatus.CANCELLED)
    promise(dave, bolt, "2026-02-21", "2026-02-27", PromiseStatus.PARTIALLY_KEPT)
    promise(None, zed, "2026-02-09", "2026-02-12", PromiseStatus.BROKEN)
    return {"cara": cara, "dave": dave, "mia": mia, "north": north, "south": south, "books": books}


def figures(row) -> tuple:
    return (
        row.name,
        row.customers,
        row.collected,
        (row.calls, row.notes, row.emails, row.touches),
        row.promises,
        (row.kept.kept, row.kept.due),
        row.credit_sales,
        row.end_ar,
    )


# The figures ----------------------------------------------------------------------------------------------


def test_each_collectors_figures_are_exact(world):
    report = collector_activity(**FEB, scope=Scope())
    assert [figures(row) for row in report.rows] == [
        ("Cara Cole", 2, Decimal("640.00"), (3, 1, 1, 5), 3, (2, 3), Decimal("620.00"), Decimal("2180.00")),
        ("Dave Diaz", 1, Decimal("500.00"), (1, 2, 0, 3), 1, (0, 1), Decimal("300.00"), Decimal("300.00")),
        ("mia", 0, Decimal("0.00"), (0, 1, 0, 1), 0, (0, 0), Decimal("0.00"), Decimal("0.00")),
        ("No collector", 1, Decimal("80.00"), (1, 0, 0, 1), 1, (0, 1), Decimal("200.00"), Decimal("200.00")),
    ]
    assert [row.user_id for row in report.rows] == [world["cara"].pk, world["dave"].pk, world["mia"].pk, None]
    assert figures(report.total) == (
        "Total",
        4,
        Decimal("1220.00"),
        (5, 4, 1, 10),
        5,
        (2, 5),
        Decimal("1120.00"),
        Decimal("2680.00"),
    )
    cara, dave, mia, nobody = report.rows
    assert cara.dso == Decimal(2180) / Decimal(620) * 28  # 98.4516…
    assert cara.kept_rate == Decimal(2) / Decimal(3) * 100
    assert (dave.dso, dave.kept_rate) == (Decimal(28), Decimal(0))
    assert (mia.dso, mia.kept_rate) == (None, None)  # no sales, no promise came due: empty, never 0
    assert (nobody.dso, report.total.dso, report.total.kept_rate) == (Decimal(28), Decimal(67), Decimal(40))
    assert report.as_dict()["rows"][0] == {
        "collector": world["cara"].pk,
        "name": "Cara Cole",
        "username": "cara",
        "customers": 2,
        "collected": "640.00",
        "touches": 5,
        "calls": 3,
        "notes": 1,
        "emails": 1,
        "promises": 3,
        "came_due": 3,
        "kept": 2,
        "kept_rate": 66.67,
        "credit_sales": "620.00",
        "end_ar": "2180.00",
        "dso": 98.45,
    }
    assert report.as_dict()["total"]["dso"] == 67.0


def test_each_dso_and_collected_are_the_kpis_of_that_collectors_customers(world):
    report = collector_activity(**FEB, scope=Scope())
    for row in report.rows:
        if row.user_id is None:
            ids = list(Customer.objects.filter(collector=None).values_list("pk", flat=True))
        else:
            ids = Scope(collector_id=row.user_id).customer_ids()
        kpis = selectors.kpis(**FEB, customer_ids=ids)
        assert (row.dso, row.end_ar, row.credit_sales) == (kpis.dso, kpis.end_ar, kpis.credit_sales), row.name
        assert row.collected == kpis.collected == selectors.collected(**FEB, customer_ids=ids), row.name
    everyone = selectors.kpis(**FEB)
    assert (report.total.dso, report.total.collected) == (everyone.dso, everyone.collected)


def test_the_filters_limit_every_figure_to_their_customers(world):
    # Team North is Cara's customers: her touches on Dave's BOLT and the nobody row fall away; Mia's note on
    # ACME stays, as Mia's.
    north = collector_activity(**FEB, scope=Scope(team_id=world["north"].pk))
    assert [figures(row) for row in north.rows] == [
        ("Cara Cole", 2, Decimal("640.00"), (2, 1, 1, 4), 3, (2, 3), Decimal("620.00"), Decimal("2180.00")),
        ("mia", 0, Decimal("0.00"), (0, 1, 0, 1), 0, (0, 0), Decimal("0.00"), Decimal("0.00")),
    ]
    assert north.total.collected == Decimal("640.00")
    # The customers billed in EUR: EURO alone. End AR 800 × 1.20 + 120 = 1,080.00 on sales of 120.00.
    euro = collector_activity(**FEB, scope=Scope(currency="EUR"))
    assert [figures(row) for row in euro.rows] == [
        ("Cara Cole", 1, Decimal("240.00"), (0, 1, 0, 1), 1, (0, 1), Decimal("120.00"), Decimal("1080.00")),
    ]
    assert euro.rows[0].dso == Decimal(252)
    retail = collector_activity(**FEB, scope=Scope(segment="Retail", collector_id=world["dave"].pk))
    assert [row.name for row in retail.rows] == ["Cara Cole", "Dave Diaz"]  # Cara called Dave's BOLT
    assert [row.touches for row in retail.rows] == [1, 3]
    assert [row.collected for row in retail.rows] == [Decimal("0.00"), Decimal("500.00")]


def test_a_period_without_activity_lists_the_collectors_with_empty_figures(world):
    report = collector_activity(start=D(2025, 6, 1), end=D(2025, 6, 30), scope=Scope())
    assert [(row.name, row.customers, row.touches, row.dso, row.kept_rate) for row in report.rows] == [
        ("Cara Cole", 2, 0, None, None),
        ("Dave Diaz", 1, 0, None, None),
        ("No collector", 1, 0, None, None),
    ]
    assert report.total.collected == Decimal("0.00")


def test_a_missing_rate_and_a_reversed_period_are_refused_with_the_field(world):
    from recoup.core.errors import DomainError
    from recoup.ledger.models import FxRate

    with pytest.raises(DomainError) as refused:
        collector_activity(start=D(2026, 3, 1), end=D(2026, 2, 1), scope=Scope())
    assert (refused.value.field, refused.value.message) == ("from", "The period ends before it starts.")
    FxRate.objects.all().delete()
    with pytest.raises(DomainError) as refused:
        collector_activity(**FEB, scope=Scope())
    assert (refused.value.field, refused.value.message) == (
        "to",
        "No EUR→USD rate is dated on or before 2026-02-28.",
    )


# Queries: a fixed number, however many collectors ------------------------------------------------------


def add_collectors(books, n: int) -> None:
    """n more collectors, each with a customer, an invoice paid in part, a call, a note and a promise kept."""
    first = User.objects.count()
    for i in range(first, first + n):
        user = User.objects.create_user(username=f"c{i}", password="pw", role=Role.COLLECTOR)
        customer = books.customer(f"C{i}", collector=user, segment="Retail")
        invoice = books.invoice(customer, D(2026, 2, 20), "100.00")
        books.pay(invoice, "40.00", D(2026, 2, 10))
        activity.call_log(actor=user, customer=customer, outcome="reached", called_at=at("2026-02-09"))
        note(user, customer, at("2026-02-10"))
        promise(user, customer, "2026-02-10", "2026-02-12", PromiseStatus.KEPT)


def count_queries(scope: Scope) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as captured:
        report = collector_activity(**FEB, scope=scope)
    return len(captured), len(report.rows)


@pytest.mark.parametrize("filtered", [False, True])
def test_the_queries_do_not_grow_with_the_collectors(books, settings, filtered, django_assert_num_queries):
    settings.BASE_CURRENCY = "USD"
    scope = Scope(segment="Retail") if filtered else Scope()
    # The customers per collector, and a filter's customer ids; an aging report (3; on PostgreSQL 6, with a
    # savepoint, its SET LOCAL and the release); the sales and the payments by collector and 2 rate queries;
    # calls, notes, emails, promises made and the kept rate (5); the users' names.
    expected = 14 + filtered + (3 if connection.vendor == "postgresql" else 0)
    add_collectors(books, 2)
    with django_assert_num_queries(expected):
        collector_activity(**FEB, scope=scope)
    assert count_queries(scope) == (expected, 2)
    add_collectors(books, 3)
    with django_assert_num_queries(expected):
        report = collector_activity(**FEB, scope=scope)
    assert len(report.rows) == 5
    assert [(row.collected, row.touches, row.kept_rate) for row in report.rows] == [
        (Decimal("40.00"), 2, Decimal(100))
    ] * 5


# The dashboard ----------------------------------------------------------------------------------------------


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_dashboard_endpoint_gives_the_period_with_links_to_each_collectors_customers(world):
    client = client_for(world["mia"])
    response = client.get(reverse("dashboard-collector-activity"), {"from": "2026-02-01", "to": "2026-02-28"})
    assert response.status_code == 200, response.content
    body = response.json()
    cara, dave = world["cara"].pk, world["dave"].pk
    assert (body["as_of"], body["period"], body["days"], body["currency"], body["filters"]) == (
        "2026-03-16",
        {"from": "2026-02-01", "to": "2026-02-28"},
        28,
        "USD",
        {},
    )
    assert [(r["name"], r["collected"], r["touches"], r["dso"]) for r in body["rows"]] == [
        ("Cara Cole", "640.00", 5, 98.45),
        ("Dave Diaz", "500.00", 3, 28.0),
        ("mia", "0.00", 1, None),
        ("No collector", "80.00", 1, 28.0),
    ]
    assert [r["links"] for r in body["rows"]][::3] == [
        {
            "customers": f"/customers/?collector={cara}",
            "collected": f"/customers/?collector={cara}&paid_from=2026-02-01&paid_to=2026-02-28",
        },
        {
            "customers": "/customers/?collector=none",
            "collected": "/customers/?collector=none&paid_from=2026-02-01&paid_to=2026-02-28",
        },
    ]
    assert body["total"]["links"]["customers"] == "/customers/"
    # The link opens the customers it counted.
    rows = tables(client.get(body["rows"][0]["links"]["collected"]))["customers"]
    assert sorted(row[1] for row in rows) == ["Acme Corp", "Euro GmbH"]
    # With a filter, the links keep it.
    filtered = client.get(
        reverse("dashboard-collector-activity"),
        {"from": "2026-02-01", "to": "2026-02-28", "segment": "Retail"},
    ).json()
    assert filtered["filters"] == {"segment": "Retail"}
    assert [r["links"]["customers"] for r in filtered["rows"]] == [
        f"/customers/?collector={cara}&segment=Retail",
        f"/customers/?collector={dave}&segment=Retail",
    ]


def test_the_dashboard_endpoint_defaults_to_the_month_to_date(world):
    body = client_for(world["mia"]).get(reverse("dashboard-collector-activity")).json()
    assert (body["period"], body["days"]) == ({"from": "2026-03-01", "to": "2026-03-16"}, 16)
    # In March: A1's 300 on 03-02; Cara's call of 03-01 00:30 (Berlin); Dave's note of 03-03.
    assert [(r["name"], r["collected"], r["touches"]) for r in body["rows"]] == [
        ("Cara Cole", "300.00", 1),
        ("Dave Diaz", "0.00", 1),
        ("No collector", "0.00", 0),
    ]


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        ({"from": "2026-02-30"}, {"from": ["'2026-02-30' is not a date (expected YYYY-MM-DD)."]}),
        ({"to": "yesterday"}, {"to": ["'yesterday' is not a date (expected YYYY-MM-DD)."]}),
        ({"from": "2026-03-10", "to": "2026-03-01"}, {"from": ["The period ends before it starts."]}),
        ({"from": "1899-12-31"}, {"from": ["Choose a date from 1900-01-01 on."]}),
        (
            {"collector": "999"},
            {"collector": ["Select a valid choice. That choice is not one of the available choices."]},
        ),
    ],
)
def test_a_bad_period_or_filter_is_a_400_naming_the_field(world, params, errors):
    response = client_for(world["mia"]).get(reverse("dashboard-collector-activity"), params)
    assert (response.status_code, response.json()) == (400, errors)


def test_anonymous_and_a_role_that_may_not_read_are_refused(world):
    url = reverse("dashboard-collector-activity")
    assert (Client().get(url).status_code, Client().get(url).json()) == (
        403,
        {"detail": "Log in to read the dashboard."},
    )
    User.objects.filter(pk=world["mia"].pk).update(role="")  # no role: reads nothing
    response = client_for(User.objects.get(pk=world["mia"].pk)).get(url)
    assert (response.status_code, response.json()) == (403, {"detail": "Your role does not allow this."})
    panel = client_for(User.objects.get(pk=world["mia"].pk)).get(
        reverse("dashboard-collector-activity-panel")
    )
    assert panel.status_code == 403


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER, Role.COLLECTOR, Role.RESOLVER, Role.VIEWER])
def test_every_role_reads_it(world, make_user, role):
    response = client_for(make_user(role)).get(reverse("dashboard-collector-activity"))
    assert response.status_code == 200


def test_the_page_loads_the_table_after_itself_with_the_filter(world):
    client = client_for(world["mia"])
    page = client.get(reverse("dashboard"), {"team": str(world["north"].pk)}).content.decode()
    placeholder = page.split('id="panel-collector-activity"')[1].split("</section>")[0]
    url = f"/dashboard/collector-activity/?team={world['north'].pk}"
    assert f'hx-get="{url}" hx-trigger="load" hx-swap="outerHTML"' in placeholder
    assert 'id="collector-activity"' not in page  # the page's own queries do not grow: htmx loads it

    panel = client.get(url + "&from=2026-02-01&to=2026-02-28", HTTP_HX_REQUEST="true")
    assert panel.status_code == 200
    html = panel.content.decode()
    assert "<html" not in html and "from 2026-02-01 to 2026-02-28" in html
    assert tables(panel)["collector-activity"] == [
        ["Cara Cole", "2", "640.00", "4", "3", "66.67% 2 of 3", "98.45"],
        ["mia", "0", "0.00", "1", "0", "—", "—"],
    ]
    footer = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.split("<tfoot>")[1].split("</tfoot>")[0]))
    assert footer.split() == ["Total", "2", "640.00", "5", "3", "66.67%", "2", "of", "3", "98.45"]
    assert f'<a href="/customers/?collector={world["cara"].pk}&amp;team={world["north"].pk}"' in html
    # Its own period form keeps the filter, and swaps the panel.
    assert f'<input type="hidden" name="team" value="{world["north"].pk}">' in html
    assert 'hx-target="#panel-collector-activity" hx-swap="outerHTML"' in html
    assert "Dunning's automatic reminders are not anyone's touch." in html


def test_the_panel_says_what_it_refused(world):
    client = client_for(world["mia"])
    url = reverse("dashboard-collector-activity-panel")
    response = client.get(url, {"from": "2026-03-10", "to": "2026-03-01"})
    assert response.status_code == 400
    assert "from: The period ends before it starts." in response.content.decode()
    assert 'id="collector-activity"' not in response.content.decode()
    # htmx swaps only a 2xx answer: in the page, the refusal shows in place.
    assert client.get(url, {"from": "nope"}, HTTP_HX_REQUEST="true").status_code == 200


# The API ----------------------------------------------------------------------------------------------------


def api_client(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=user, actor=None).key}")
    return client


@pytest.mark.parametrize("path", ["/api/v1/reports/collectors", "/api/v1/reports/collectors/"])
def test_the_api_gives_the_same_report(world, make_user, path):
    response = api_client(make_user(Role.VIEWER)).get(path, {"from": "2026-02-01", "to": "2026-02-28"})
    assert response.status_code == 200, response.content
    assert response.json() == collector_activity(**FEB, scope=Scope()).as_dict()
    assert response.json()["total"]["collected"] == "1220.00"


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        ({"to": "2026-02-28"}, {"from": ["This field is required."]}),
        (
            {"from": "2026-02-01", "to": "2026-02-30"},
            {"to": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]},
        ),
        ({"from": "2026-03-01", "to": "2026-02-01"}, {"from": ["The period ends before it starts."]}),
    ],
)
def test_the_api_refuses_bad_dates_naming_the_field(world, make_user, params, errors):
    response = api_client(make_user(Role.MANAGER)).get("/api/v1/reports/collectors", params)
    assert (response.status_code, response.json()) == (400, errors)


def test_the_api_refuses_a_role_that_may_not_read(world, make_user):
    user = make_user(Role.VIEWER)
    client = api_client(user)
    User.objects.filter(pk=user.pk).update(role="")
    response = client.get("/api/v1/reports/collectors", {"from": "2026-02-01", "to": "2026-02-28"})
    assert (response.status_code, response.json()) == (403, {"detail": "Your role does not allow this."})
    assert APIClient().get("/api/v1/reports/collectors").status_code == 401


def test_a_call_logged_without_a_person_is_nobodys_touch(world):
    assert Call.objects.filter(actor=None).count() == 1
    nobody = collector_activity(**FEB, scope=Scope()).rows[-1]
    assert (nobody.name, nobody.calls) == ("No collector", 1)
