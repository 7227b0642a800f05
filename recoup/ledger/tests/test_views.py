"""The ledger pages: exact figures in the tables, role checks, filters and query counts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from html.parser import HTMLParser

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.urls import reverse

from recoup.core.models import Event
from recoup.ledger import services
from recoup.ledger.models import Customer, Invoice
from recoup.ledger.services import Application
from recoup.users.models import Role, User

D = dt.date
TODAY = D(2026, 3, 15)
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_today():
    with time_machine.travel(dt.datetime(2026, 3, 15, 12, 0, tzinfo=dt.UTC), tick=False):
        yield


class _Tables(HTMLParser):
    """The text of every body cell of every table, by table id: {id: [[cell, ...], ...]}."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._in_body = False
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("id") or f"table{len(self.tables)}"
            self.tables[self._table] = []
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "tbody":
            self._in_body = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(response) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(response.content.decode())
    return parser.tables


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def invoice(actor, customer, external_id, *, due, amount, issue=None, currency=None) -> Invoice:
    return services.invoice_create(
        actor=actor,
        customer=customer,
        external_id=external_id,
        issue_date=issue or due - dt.timedelta(days=30),
        due_date=due,
        amount=Decimal(amount),
        currency=currency,
    )


@pytest.fixture
def ledger(manager, collector):
    """Customers in three currencies with overdue, current and partly paid invoices, as of 2026-03-15."""
    acme = services.customer_create(
        actor=manager,
        external_id="ACME",
        name="Acme Corp",
        currency="USD",
        credit_limit=Decimal("5000"),
        collector=collector,
    )
    services.contact_create(actor=manager, customer=acme, name="Pat Payables", email="ap@acme.example")
    invoice(manager, acme, "A-1", due=D(2026, 1, 10), amount="1200.50")  # 64 days past due
    invoice(manager, acme, "A-2", due=D(2026, 3, 1), amount="300.00")  # 14 days past due
    a3 = invoice(manager, acme, "A-3", due=D(2026, 4, 1), amount="1000.00")  # current
    invoice(manager, acme, "A-4", due=D(2026, 3, 15), amount="50.00")  # due today: not overdue
    services.payment_create(
        actor=manager,
        customer=acme,
        external_id="PAY-A1",
        date=D(2026, 3, 2),
        amount=Decimal("400.00"),
        apply_to=[Application(a3, Decimal("250.00"))],
        reference="wire 77",
    )
    services.credit_note_create(
        actor=manager,
        customer=acme,
        external_id="CN-A1",
        date=D(2026, 3, 5),
        amount=Decimal("20.00"),
        reason="Damaged goods",
    )

    kaito = services.customer_create(
        actor=manager, external_id="KAITO", name="Kaito KK", currency="JPY", on_hold=True
    )
    invoice(manager, kaito, "K-1", due=D(2026, 3, 10), amount="250000")
    paid = invoice(manager, kaito, "K-2", due=D(2026, 2, 1), amount="99000")
    services.payment_create(
        actor=manager,
        customer=kaito,
        external_id="PAY-K1",
        date=D(2026, 2, 3),
        amount=Decimal("99000"),
        apply_to=[Application(paid)],
    )

    gulf = services.customer_create(
        actor=manager, external_id="GULF-7", name="Gulf Trading", currency="KWD", do_not_dun=True
    )
    invoice(manager, gulf, "G-1", due=D(2026, 3, 31), amount="1.250")

    services.customer_create(actor=manager, external_id="ZED", name="Zed Idle", currency="USD")
    services.fx_rate_set(actor=manager, currency="JPY", date=D(2026, 1, 1), rate=Decimal("0.0065"))
    services.fx_rate_set(actor=manager, currency="KWD", date=D(2026, 1, 1), rate=Decimal("3.25"))
    return {"acme": acme, "kaito": kaito, "gulf": gulf}


# Access -----------------------------------------------------------------------------------------------------

PAGES = ["customer-list", "customer-detail", "invoice-list", "invoice-detail"]


def page_url(name: str) -> str:
    if name == "customer-detail":
        return reverse(name, args=[Customer.objects.get(external_id="ACME").pk])
    if name == "invoice-detail":
        return reverse(name, args=[Invoice.objects.get(external_id="A-3").pk])
    return reverse(name)


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_is_sent_to_login(ledger, name):
    url = page_url(name)
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER, Role.COLLECTOR, Role.RESOLVER, Role.VIEWER])
@pytest.mark.parametrize("name", PAGES)
def test_every_role_reads_every_page(ledger, make_user, role, name):
    response = logged_in(make_user(role)).get(page_url(name))
    assert response.status_code == 200
    assert response.context["user"].role == role


def test_a_viewer_cannot_post_to_a_page_and_nothing_is_written(ledger, viewer):
    events_before = Event.objects.count()
    response = logged_in(viewer).post(reverse("customer-list"), {"name": "x"})
    assert response.status_code == 403
    assert Event.objects.count() == events_before
    assert Customer.objects.count() == 4


def test_an_inactive_user_is_refused(ledger, viewer):
    client = logged_in(viewer)
    User.objects.filter(pk=viewer.pk).update(is_active=False)
    response = client.get(reverse("customer-list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_navigation_shows_admin_link_to_admins_only(ledger, admin_user, manager):
    admin_page = logged_in(admin_user).get(reverse("customer-list")).content.decode()
    manager_page = logged_in(manager).get(reverse("customer-list")).content.decode()
    assert f'<a href="{reverse("admin:index")}">Admin</a>' in admin_page
    assert reverse("admin:index") not in manager_page
    for page in (admin_page, manager_page):
        assert f'href="{reverse("api-docs")}">API docs</a>' in page
        assert f'<form method="post" action="{reverse("logout")}" class="inline">' in page
        assert 'name="csrfmiddlewaretoken"' in page
    assert '<span class="badge badge-role" title="Your role">AR manager</span>' in manager_page
    assert '<span class="badge badge-role" title="Your role">Admin</span>' in admin_page


# Login and logout -------------------------------------------------------------------------------------------


def test_login_page_logs_in_and_goes_to_the_dashboard(viewer):
    client = Client(enforce_csrf_checks=True)
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert b'name="username"' in page.content and b'name="password"' in page.content
    token = page.context["csrf_token"]
    response = client.post(
        reverse("login"), {"username": "viewer", "password": "pw-viewer", "csrfmiddlewaretoken": str(token)}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert client.get(reverse("home"))["Location"] == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200


def test_login_with_a_wrong_password_stays_out(viewer):
    client = Client()
    response = client.post(reverse("login"), {"username": "viewer", "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logout_is_a_post_and_ends_the_session(viewer):
    client = logged_in(viewer)
    assert client.get(reverse("logout")).status_code == 405
    assert client.get(reverse("customer-list")).status_code == 200
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert client.get(reverse("customer-list")).status_code == 302


# Customers list ---------------------------------------------------------------------------------------------


def test_customers_sorted_by_balance_show_exact_balances_and_overdue(ledger, viewer):
    response = logged_in(viewer).get(reverse("customer-list"), {"sort": "-balance"})
    rows = tables(response)["customers"]
    # Balances compare as numbers across currencies: the list needs no conversion, only an order.
    assert rows == [
        ["KAITO", "Kaito KK", "JPY", "250,000 JPY", "250,000 JPY", "—", "On hold"],
        ["ACME", "Acme Corp", "USD", "2,300.50 USD", "1,500.50 USD", "collector", ""],
        ["GULF-7", "Gulf Trading", "KWD", "1.250 KWD", "0.000 KWD", "—", "Do not dun"],
        ["ZED", "Zed Idle", "USD", "0.00 USD", "0.00 USD", "—", ""],
    ]


def test_customers_sorted_by_overdue_and_by_name(ledger, viewer):
    client = logged_in(viewer)
    by_overdue = tables(client.get(reverse("customer-list"), {"sort": "-overdue"}))["customers"]
    assert [(r[0], r[4]) for r in by_overdue] == [
        ("KAITO", "250,000 JPY"),
        ("ACME", "1,500.50 USD"),
        ("GULF-7", "0.000 KWD"),
        ("ZED", "0.00 USD"),
    ]  # ties on the amount go by name
    by_name = tables(client.get(reverse("customer-list"), {"sort": "name"}))["customers"]
    assert [r[1] for r in by_name] == ["Acme Corp", "Gulf Trading", "Kaito KK", "Zed Idle"]


def test_unknown_sort_falls_back_to_balance(ledger, viewer):
    response = logged_in(viewer).get(reverse("customer-list"), {"sort": "password"})
    assert response.context["sort"] == "-balance"
    assert [r[0] for r in tables(response)["customers"]] == ["KAITO", "ACME", "GULF-7", "ZED"]


def test_open_invoices_in_another_currency_are_flagged_not_summed(ledger, manager, viewer):
    invoice(manager, ledger["acme"], "A-EUR", due=D(2026, 1, 1), amount="999.00", currency="EUR")
    rows = tables(logged_in(viewer).get(reverse("customer-list"), {"sort": "name"}))["customers"]
    assert rows[0][:5] == ["ACME", "Acme Corp", "USD", "2,300.50 USD +1 other", "1,500.50 USD"]


def test_search_matches_name_or_external_id(ledger, viewer):
    client = logged_in(viewer)
    by_name = client.get(reverse("customer-list"), {"q": "trad"})
    by_external_id = client.get(reverse("customer-list"), {"q": "kait"})
    assert [r[0] for r in tables(by_name)["customers"]] == ["GULF-7"]
    assert [r[0] for r in tables(by_external_id)["customers"]] == ["KAITO"]
    empty = client.get(reverse("customer-list"), {"q": "nobody"})
    assert tables(empty)["customers"] == [["No customers match “nobody”."]]


def test_htmx_search_returns_only_the_table(ledger, viewer):
    response = logged_in(viewer).get(reverse("customer-list"), {"q": "acme"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<html" not in html and '<nav class="mainnav"' not in html
    assert html.lstrip().startswith('<table class="table" id="customers">')
    assert [r[0] for r in tables(response)["customers"]] == ["ACME"]


def test_customers_list_paginates_and_keeps_the_search(manager, viewer):
    for n in range(60):
        services.customer_create(actor=manager, external_id=f"N{n:03d}", name=f"Northwind {n:03d}")
    services.customer_create(actor=manager, external_id="OTHER", name="Other")
    client = logged_in(viewer)
    page2 = client.get(reverse("customer-list"), {"q": "northwind", "sort": "name", "page": "2"})
    assert [r[0] for r in tables(page2)["customers"]] == [f"N{n:03d}" for n in range(50, 60)]
    html = page2.content.decode()
    assert "51–60 of 60" in html
    assert 'href="?q=northwind&amp;sort=name&amp;page=1"' in html


def test_customers_list_query_count_does_not_grow_with_rows(
    manager, collector, viewer, django_assert_max_num_queries
):
    for n in range(35):
        customer = services.customer_create(
            actor=manager, external_id=f"Q{n:03d}", name=f"Quantity {n:03d}", collector=collector
        )
        invoice(manager, customer, f"Q{n:03d}-1", due=D(2026, 1, 1), amount="10.00")
        invoice(manager, customer, f"Q{n:03d}-2", due=D(2026, 6, 1), amount="5.00")
    client = logged_in(viewer)
    # session + user + count + the page's one annotated query
    with django_assert_max_num_queries(4):
        response = client.get(reverse("customer-list"))
    rows = tables(response)["customers"]
    assert len(rows) == 35
    assert rows[0][3:6] == ["15.00 USD", "10.00 USD", "collector"]


# Customer page ----------------------------------------------------------------------------------------------


def test_customer_page_shows_balance_credit_limit_flags_and_contacts(ledger, viewer):
    response = logged_in(viewer).get(reverse("customer-detail", args=[ledger["acme"].pk]))
    html = response.content.decode()
    assert '<span class="stat-value" data-testid="balance-USD">2,300.50 USD</span>' in html
    assert '<span class="stat-value overdue">1,500.50 USD</span>' in html
    # PAY-A1 left 150.00 unapplied and CN-A1 20.00: 170.00 of credit, netted into the balance.
    assert '<span class="stat-value credit">170.00 USD</span>' in html
    assert '<span class="stat-value" id="net-balance">2,130.50 USD</span>' in html
    assert "5,000.00 USD" in html
    assert "ap@acme.example" in html and "Pat Payables" in html
    kaito = logged_in(viewer).get(reverse("customer-detail", args=[ledger["kaito"].pk])).content.decode()
    assert '<span class="badge badge-warn">On hold</span>' in kaito


def test_customer_page_aging_strip_has_the_exact_buckets(ledger, viewer):
    response = logged_in(viewer).get(reverse("customer-detail", args=[ledger["acme"].pk]))
    assert response.context["aging_cells"] == [
        ("current", Decimal("800.00")),  # A-3 750.00 open + A-4 due today 50.00
        ("1-30", Decimal("300.00")),
        ("31-60", Decimal("0.00")),
        ("61-90", Decimal("1200.50")),
        ("91-120", Decimal("0.00")),
        ("120+", Decimal("0.00")),
    ]
    html = response.content.decode()
    strip = html[html.index('id="aging-strip"') : html.index("</section>", html.index('id="aging-strip"'))]
    values = [" ".join(v.split()) for v in strip.split('<span class="aging-value">')[1:]]
    assert [v[: v.index("<")] for v in values] == [
        "800.00",
        "300.00",
        "0.00",
        "1,200.50",
        "0.00",
        "0.00",
        "2,300.50",
    ]
    assert "by due date, in USD" in html


def test_customer_page_aging_converts_to_the_base_currency(ledger, viewer):
    response = logged_in(viewer).get(reverse("customer-detail", args=[ledger["kaito"].pk]))
    assert response.context["aging_cells"][1] == ("1-30", Decimal("1625.00"))  # 250,000 JPY × 0.0065
    assert response.context["aging_total"] == Decimal("1625.00")
    assert "Rates: JPY 0.0065 (2026-01-01)" in response.content.decode()


def test_customer_page_without_a_rate_explains_the_missing_aging(manager, viewer):
    customer = services.customer_create(actor=manager, external_id="CHF1", name="Swiss", currency="CHF")
    invoice(manager, customer, "CH-1", due=D(2026, 3, 1), amount="10.00")
    response = logged_in(viewer).get(reverse("customer-detail", args=[customer.pk]))
    assert response.status_code == 200
    assert "No CHF→USD rate is dated on or before 2026-03-15." in response.content.decode()
    assert "aging_cells" not in response.context


def test_customer_page_lists_open_invoices_payments_and_credit_notes(ledger, viewer):
    response = logged_in(viewer).get(reverse("customer-detail", args=[ledger["acme"].pk]))
    found = tables(response)
    assert found["open-invoices"] == [
        ["A-1", "2025-12-11", "2026-01-10", "64", "1,200.50 USD", "1,200.50 USD"],
        ["A-2", "2026-01-30", "2026-03-01", "14", "300.00 USD", "300.00 USD"],
        ["A-4", "2026-02-13", "2026-03-15", "—", "50.00 USD", "50.00 USD"],
        ["A-3", "2026-03-02", "2026-04-01", "—", "1,000.00 USD", "750.00 USD"],
    ]
    assert found["payments"] == [["PAY-A1", "2026-03-02", "wire 77", "400.00 USD", "150.00 USD"]]
    assert found["credit-notes"] == [["CN-A1", "2026-03-05", "Damaged goods", "20.00 USD", "20.00 USD"]]


def test_customer_page_query_count_is_bounded(ledger, manager, viewer, django_assert_max_num_queries):
    for n in range(40):
        invoice(manager, ledger["acme"], f"B-{n:02d}", due=D(2026, 2, 1), amount="1.00")
    client = logged_in(viewer)
    # 16 queries; PostgreSQL adds two for the aging query's SET LOCAL inside its savepoint.
    with django_assert_max_num_queries(18 if connection.vendor == "postgresql" else 16):
        response = client.get(reverse("customer-detail", args=[ledger["acme"].pk]))
    assert len(tables(response)["open-invoices"]) == 44


def test_unknown_customer_is_404(viewer):
    assert logged_in(viewer).get(reverse("customer-detail", args=[999])).status_code == 404


# Invoices ---------------------------------------------------------------------------------------------------


def invoice_ids(response) -> list[str]:
    return [row[0] for row in tables(response)["invoices"]]


def test_invoices_list_defaults_to_open_invoices_by_due_date(ledger, viewer):
    response = logged_in(viewer).get(reverse("invoice-list"))
    rows = tables(response)["invoices"]
    assert rows == [
        ["A-1", "Acme Corp", "2025-12-11", "2026-01-10", "64", "1,200.50 USD", "1,200.50 USD", "Overdue"],
        ["A-2", "Acme Corp", "2026-01-30", "2026-03-01", "14", "300.00 USD", "300.00 USD", "Overdue"],
        ["K-1", "Kaito KK", "2026-02-08", "2026-03-10", "5", "250,000 JPY", "250,000 JPY", "Overdue"],
        ["A-4", "Acme Corp", "2026-02-13", "2026-03-15", "—", "50.00 USD", "50.00 USD", "Open"],
        ["G-1", "Gulf Trading", "2026-03-01", "2026-03-31", "—", "1.250 KWD", "1.250 KWD", "Open"],
        ["A-3", "Acme Corp", "2026-03-02", "2026-04-01", "—", "1,000.00 USD", "750.00 USD", "Part paid"],
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "closed"}, ["K-2"]),
        ({"status": "all"}, ["A-1", "K-2", "A-2", "K-1", "A-4", "G-1", "A-3"]),
        ({"status": "open", "overdue": "on"}, ["A-1", "A-2", "K-1"]),
        ({"status": "all", "customer": "kaito"}, ["K-2", "K-1"]),
        ({"status": "all", "customer": "GULF-7"}, ["G-1"]),
        ({"status": "all", "due_from": "2026-03-01", "due_to": "2026-03-15"}, ["A-2", "K-1", "A-4"]),
        ({"status": "all", "currency": "JPY"}, ["K-2", "K-1"]),
        ({"status": "open", "currency": "USD", "overdue": "on", "customer": "acme"}, ["A-1", "A-2"]),
    ],
)
def test_invoices_list_filters(ledger, viewer, params, expected):
    assert invoice_ids(logged_in(viewer).get(reverse("invoice-list"), params)) == expected


def test_invoices_list_reports_a_bad_range_and_shows_nothing(ledger, viewer):
    response = logged_in(viewer).get(
        reverse("invoice-list"), {"due_from": "2026-04-01", "due_to": "2026-03-01"}
    )
    assert "Due to: The end of the range is before its start." in response.content.decode()
    assert tables(response)["invoices"] == [["No invoices match these filters."]]


def test_closed_invoice_reads_paid(ledger, viewer):
    rows = tables(logged_in(viewer).get(reverse("invoice-list"), {"status": "closed"}))["invoices"]
    assert rows == [["K-2", "Kaito KK", "2026-01-02", "2026-02-01", "—", "99,000 JPY", "0 JPY", "Paid"]]


def test_invoices_list_paginates_with_filters_kept(manager, viewer, django_assert_max_num_queries):
    customer = services.customer_create(actor=manager, external_id="BIG", name="Big Buyer")
    for n in range(55):
        invoice(manager, customer, f"BIG-{n:03d}", due=D(2026, 1, 1) + dt.timedelta(days=n), amount="2.00")
    client = logged_in(viewer)
    # session + user + currencies + count + page
    with django_assert_max_num_queries(5):
        page1 = client.get(reverse("invoice-list"), {"status": "open", "customer": "BIG"})
    assert len(tables(page1)["invoices"]) == 50
    assert 'href="?status=open&amp;customer=BIG&amp;page=2"' in page1.content.decode()
    page2 = client.get(reverse("invoice-list"), {"status": "open", "customer": "BIG", "page": "2"})
    assert invoice_ids(page2) == [f"BIG-{n:03d}" for n in range(50, 55)]


def test_invoice_page_shows_amounts_and_the_allocation_history_with_reversals(ledger, manager, viewer):
    a1 = Invoice.objects.get(external_id="A-1")
    acme = ledger["acme"]
    payment = services.payment_create(
        actor=manager,
        customer=acme,
        external_id="PAY-A2",
        date=D(2026, 2, 1),
        amount=Decimal("500.00"),
        apply_to=[Application(a1)],
    )
    first = a1.allocations.get()
    services.allocation_reverse(actor=manager, allocation=first, date=D(2026, 2, 20), memo="bounced")
    services.allocation_create(
        actor=manager, invoice=a1, source=payment, amount=Decimal("200.00"), date=D(2026, 2, 21)
    )
    services.write_off_create(
        actor=manager, invoice=a1, amount=Decimal("0.50"), date=D(2026, 3, 1), memo="rounding"
    )
    response = logged_in(viewer).get(reverse("invoice-detail", args=[a1.pk]))
    html = response.content.decode()
    assert '<span class="stat-value" id="invoice-amount">1,200.50 USD</span>' in html
    assert '<span class="stat-value overdue" id="invoice-open">1,000.00 USD</span>' in html
    assert "64 days past due" in html
    assert '<span class="badge badge-danger">Overdue</span>' in html
    assert tables(response)["allocations"] == [
        [
            "2026-02-01",
            "Payment Reversed",
            "PAY-A2",
            "Reversed on 2026-02-20",
            "500.00 USD",
            "700.50 USD",
            "manager",
        ],
        [
            "2026-02-20",
            "Payment Reversal",
            "PAY-A2",
            "Reverses the 2026-02-01 payment of 500.00 USD: bounced",
            "−500.00 USD",
            "1,200.50 USD",
            "manager",
        ],
        ["2026-02-21", "Payment", "PAY-A2", "—", "200.00 USD", "1,000.50 USD", "manager"],
        ["2026-03-01", "Write-off", "—", "rounding", "0.50 USD", "1,000.00 USD", "manager"],
    ]


def test_invoice_page_for_an_untouched_invoice(ledger, viewer):
    a4 = Invoice.objects.get(external_id="A-4")
    response = logged_in(viewer).get(reverse("invoice-detail", args=[a4.pk]))
    assert tables(response)["allocations"] == [["Nothing has been applied to this invoice."]]
    assert "Due today" in response.content.decode()


# The money filters ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (Decimal("1234.5"), "USD", "1,234.50 USD"),
        (Decimal("1234.5678"), "EUR", "1,234.57 EUR"),
        (Decimal("120000.0000"), "JPY", "120,000 JPY"),
        (Decimal("1.2345"), "KWD", "1.235 KWD"),
        (Decimal("-500"), "USD", "\u2212500.00 USD"),
        (7, "USD", "7.00 USD"),
        (None, "USD", "—"),
        (Decimal("1"), "US", "—"),
    ],
)
def test_money_filter_formats_at_the_currency_minor_unit(amount, currency, text):
    from recoup.core.templatetags.money import amount as amount_filter
    from recoup.core.templatetags.money import money

    assert money(amount, currency) == text
    assert amount_filter(amount, currency) == text.removesuffix(f" {currency}")
