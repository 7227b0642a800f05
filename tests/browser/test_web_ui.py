"""A person's walk through the web UI in a real Chromium: log in, find a customer, read its aging, open an
invoice, filter invoices, log out. Screenshots land in test-artifacts/."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from recoup.ledger import services
from recoup.ledger.services import Application
from recoup.users.models import Role, User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ledger():
    """Dates relative to today, since the live server runs on the real clock."""
    today = timezone.localdate()
    manager = User.objects.create_user(username="mia", password="pw-mia-manager", role=Role.MANAGER)
    collector = User.objects.create_user(username="carl", password="pw-carl", role=Role.COLLECTOR)

    def days(n: int) -> dt.date:
        return today + dt.timedelta(days=n)

    def invoice(customer, external_id, due, amount, currency=None):
        return services.invoice_create(
            actor=manager,
            customer=customer,
            external_id=external_id,
            issue_date=due - dt.timedelta(days=30),
            due_date=due,
            amount=Decimal(amount),
            currency=currency,
        )

    acme = services.customer_create(
        actor=manager,
        external_id="ACME",
        name="Acme Corp",
        currency="USD",
        collector=collector,
        credit_limit=Decimal("10000"),
    )
    services.contact_create(actor=manager, customer=acme, name="Pat Payables", email="ap@acme.example")
    invoice(acme, "A-100", days(-75), "1200.50")  # 61-90
    invoice(acme, "A-101", days(-10), "300.00")  # 1-30
    a102 = invoice(acme, "A-102", days(20), "1000.00")  # current, part paid below
    invoice(acme, "A-103", days(-130), "42.00")  # 120+
    services.payment_create(
        actor=manager,
        customer=acme,
        external_id="PAY-1",
        date=days(-1),
        amount=Decimal("400.00"),
        apply_to=[Application(a102, Decimal("250.00"))],
        reference="wire 77",
    )
    kaito = services.customer_create(
        actor=manager, external_id="KAITO", name="Kaito KK", currency="JPY", on_hold=True
    )
    k1 = invoice(kaito, "K-1", days(-5), "250000")
    bounced = services.payment_create(
        actor=manager,
        customer=kaito,
        external_id="PAY-K1",
        date=days(-4),
        amount=Decimal("100000"),
        apply_to=[Application(k1)],
    )
    services.allocation_reverse(
        actor=manager, allocation=bounced.allocations.get(), date=days(-2), memo="cheque returned"
    )
    services.fx_rate_set(actor=manager, currency="JPY", date=days(-400), rate=Decimal("0.0065"))
    for n in range(30):
        other = services.customer_create(actor=manager, external_id=f"N{n:03d}", name=f"Northwind {n:03d}")
        invoice(other, f"N-{n:03d}", days(-n), f"{10 + n}.00")
    return {"today": today}


def log_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/customers/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/customers/$"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/customers/")


def test_log_in_find_a_customer_read_its_aging_open_an_invoice_and_log_out(
    page, live_server, ledger, screenshot
):
    base = live_server.url
    page.goto(f"{base}/login/")
    expect(page.get_by_role("heading", name="Recoup")).to_be_visible()
    screenshot("01-login")

    log_in(page, base, "mia", "pw-mia-manager")
    expect(page.locator(".usermenu")).to_contain_text("mia")
    expect(page.locator(".badge-role")).to_have_text("AR manager")
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)
    rows = page.locator("#customers tbody tr")
    expect(rows).to_have_count(32)
    # Sorted by balance, highest first: the JPY customer's number is the largest.
    expect(rows.nth(0)).to_contain_text("Kaito KK")
    expect(rows.nth(0).locator("td").nth(3)).to_have_text("250,000 JPY")
    expect(rows.nth(1).locator("td").nth(3)).to_have_text("2,292.50 USD")
    expect(rows.nth(1).locator("td").nth(4)).to_have_text("1,542.50 USD")
    assert page.evaluate("typeof window.htmx") == "object"  # the vendored library is served from node_modules
    screenshot("02-customers")

    # Search as you type: htmx swaps the table, and the address bar keeps the search.
    page.get_by_label("Search customers").press_sequentially("acm")
    expect(rows).to_have_count(1)
    expect(rows.nth(0).locator("td").nth(1)).to_have_text("Acme Corp")
    expect(page).to_have_url(re.compile(r"q=acm"))
    expect(page.locator("nav.mainnav")).to_have_count(1)  # the layout was not swapped in twice
    screenshot("03-customers-search")

    page.get_by_role("link", name="Acme Corp").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Acme Corp")
    strip = page.locator("#aging-strip .aging-value")
    expect(strip).to_have_text(["750.00", "300.00", "0.00", "1,200.50", "0.00", "42.00", "2,292.50"])
    expect(page.locator("#aging-strip .aging-label")).to_have_text(
        ["Current", "1-30", "31-60", "61-90", "91-120", "120+", "Total"]
    )
    expect(page.locator("#net-balance")).to_have_text("2,142.50 USD")
    expect(page.locator("#payments tbody tr").first).to_contain_text("150.00 USD")
    expect(page.get_by_text("ap@acme.example")).to_be_visible()
    screenshot("04-customer")

    page.locator("#open-invoices").get_by_role("link", name="A-102").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("A-102")
    expect(page.locator("#invoice-amount")).to_have_text("1,000.00 USD")
    expect(page.locator("#invoice-open")).to_have_text("750.00 USD")
    history = page.locator("#allocations tbody tr")
    expect(history).to_have_count(1)
    expect(history.nth(0)).to_contain_text("PAY-1")
    screenshot("05-invoice")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{base}/login/")
    page.goto(f"{base}/customers/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/customers/$"))


def test_invoice_filters_update_the_table(page, live_server, ledger, screenshot):
    base = live_server.url
    log_in(page, base, "carl", "pw-carl")
    page.get_by_role("link", name="Invoices").click()
    rows = page.locator("#invoices tbody tr")
    expect(rows).to_have_count(35)
    expect(page.locator(".pagination-count")).to_have_text("1–35 of 35")
    page.get_by_label("Overdue only").check()
    # Overdue, K-1 and the Northwind invoices due before today (29 of 30).
    expect(page.locator(".pagination-count")).to_have_text("1–33 of 33")
    page.get_by_label("Currency").select_option("JPY")
    expect(rows).to_have_count(1)
    expect(rows.nth(0).locator("td")).to_have_text(
        [
            "K-1",
            "Kaito KK",
            re.compile(r"\d{4}-\d\d-\d\d"),
            re.compile(r"\d{4}-\d\d-\d\d"),
            "5",
            "250,000 JPY",
            "250,000 JPY",
            "Overdue",
        ]
    )
    expect(page).to_have_url(re.compile(r"overdue=on.*currency=JPY"))
    screenshot("06-invoices-filtered")

    # The reversed payment shows as two rows: the original, marked reversed, and the reversal.
    page.get_by_role("link", name="K-1").click()
    history = page.locator("#allocations tbody tr")
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text("Reversed")
    expect(history.nth(1).locator("td").nth(1)).to_have_text("Payment Reversal")
    expect(history.nth(1).locator("td").nth(4)).to_have_text("\u2212100,000 JPY")
    expect(history.nth(1).locator("td").nth(5)).to_have_text("250,000 JPY")
    expect(page.locator("#invoice-open")).to_have_text("250,000 JPY")
    screenshot("07-invoice-reversal")


def test_admin_sees_the_admin_link(page, live_server, ledger):
    User.objects.create_user(username="ada", password="pw-ada-admin", role=Role.ADMIN)
    log_in(page, live_server.url, "ada", "pw-ada-admin")
    page.get_by_role("link", name="Admin").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
