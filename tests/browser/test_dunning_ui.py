"""A manager's walk through the dunning pages in a real Chromium: open the policy, change a template's
subject, preview it for a real customer, dry-run, read an invoice's "why not dunned", hold it, then run for
real and read the outbox. Screenshots land in test-artifacts/."""

from __future__ import annotations

import datetime as dt
import re
import socket
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from recoup.dunning import defaults, delivery, policies, services
from recoup.dunning.models import DunningRun, OutboundMessage
from recoup.ledger import services as ledger
from recoup.users.models import Role, User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def books():
    """Dates relative to today, since the live server runs on the real clock. The flush of a transactional
    test removed the migration's default policy, so it is made again through the policy service."""
    today = timezone.localdate()
    User.objects.create_user(username="mia", password="pw-mia-manager", role=Role.MANAGER)
    policy, _ = services.policy_save(actor=None, spec=policies.parse_policy(defaults.DEFAULT_POLICY))
    acme = ledger.customer_create(actor=None, external_id="ACME", name="Acme Corp", currency="USD")
    ledger.contact_create(actor=None, customer=acme, name="Pat Payables", email="ap@acme.example")
    for external_id, due, amount in (("A-1", -14, "300.00"), ("A-2", 2, "1000.00")):
        ledger.invoice_create(
            actor=None,
            customer=acme,
            external_id=external_id,
            issue_date=today + dt.timedelta(days=due - 30),
            due_date=today + dt.timedelta(days=due),
            amount=Decimal(amount),
        )
    for n in range(3):
        ledger.customer_create(actor=None, external_id=f"ACMEX-{n}", name=f"Acme Subsidiary {n}")
    return {"today": today, "policy": policy}


def test_edit_a_template_preview_it_dry_run_and_ask_why_an_invoice_was_not_dunned(
    page, live_server, books, shot, log_in
):
    base, today = live_server.url, books["today"].isoformat()
    log_in(base)

    page.locator("nav.mainnav").get_by_role("link", name="Dunning").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dunning policies")
    expect(page.locator("#policies tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Standard").click()
    levels = page.locator("#levels tbody tr")
    expect(levels).to_have_count(6)
    expect(levels.nth(0).locator("td").nth(2)).to_have_text("3 days before due")
    expect(levels.nth(1).locator("td").nth(2)).to_have_text("3 days after due")
    expect(levels.nth(5).locator("td").nth(6)).to_have_text("Review task for AR manager; credit hold")
    shot("dunning-01-policy")

    # Edit the Reminder's English subject in place: htmx swaps the row for a form, then back.
    reminder = page.locator("#templates-2")
    reminder.get_by_role("link", name="Edit the en template of Reminder").click()
    editor = page.get_by_role("form", name="The en template of Reminder")
    expect(editor).to_be_visible()
    editor.get_by_label("Subject").fill("Second chance: {{ total_due }} overdue for {{ customer_name }}")
    shot("dunning-02-template-editor")
    editor.get_by_role("button", name="Save template").click()
    row = reminder.locator("tbody tr", has_text="Second chance")
    expect(row.locator("td").nth(1)).to_have_text(
        "Second chance: {{ total_due }} overdue for {{ customer_name }} Saved"
    )
    expect(page.get_by_role("form", name="The en template of Reminder")).to_have_count(0)

    # Preview it with a real customer, found by searching.
    row.get_by_role("link", name="Preview").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Preview: Reminder")
    expect(page.locator("#preview-empty")).to_be_visible()
    page.get_by_label("Search customers").press_sequentially("acm")
    matches = page.locator("#customer-matches li")
    expect(matches).to_have_count(4)
    page.locator("#customer-matches").get_by_role("link", name="Acme Corp").click()
    expect(page.locator("#preview-subject")).to_have_text("Second chance: 300.00 USD overdue for Acme Corp")
    frame = page.frame_locator("#preview-html")
    expect(frame.locator("body")).to_contain_text("Dear Pat Payables")
    expect(frame.locator("body")).to_contain_text("A-1")
    expect(page.locator("#preview-text")).to_contain_text("Dear Pat Payables")
    assert page.locator("#preview-html").get_attribute("sandbox") == ""
    pdf = page.request.get(base + (page.locator("#preview-pdf").get_attribute("href") or ""))
    assert pdf.headers["content-type"] == "application/pdf" and pdf.body()[:5] == b"%PDF-"
    shot("dunning-03-preview")

    # A dry run shows what would go out and writes nothing.
    page.get_by_role("link", name="Runs").click()
    expect(page.get_by_label("As of")).to_have_value(today)
    expect(page.get_by_label("Dry run (write and send nothing)")).to_be_checked()
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#dry-run-notice")).to_be_visible()
    expect(page.locator("#report-messages")).to_have_text("1")
    would = page.locator("#would-send tbody tr")
    expect(would).to_have_count(1)
    expect(would.nth(0).locator("td").nth(0)).to_have_text("Acme Corp ACME")
    expect(would.nth(0).locator("td").nth(2)).to_have_text("Reminder")
    expect(would.nth(0).locator("td").nth(4)).to_have_text("A-1 moves, A-2 moves")
    assert DunningRun.objects.count() == 0 and OutboundMessage.objects.count() == 0
    shot("dunning-04-dry-run")

    # The invoice page answers "why was this not dunned?", and a hold changes the answer.
    page.goto(f"{base}/customers/")
    page.get_by_role("link", name="Acme Corp").click()
    expect(page.locator("#customer-policy")).to_have_text("Standard (the default policy)")
    expect(page.locator("#timeline")).to_contain_text("Nothing has happened with this customer yet.")
    shot("dunning-05-customer")
    page.locator("#open-invoices").get_by_role("link", name="A-2").click()
    answer = page.locator("#dunning-explanation")
    expect(answer).to_have_text(
        f"It is due for Friendly notice as of {today}; the next run for that date sends it."
    )
    page.get_by_label("Reason").fill("Customer says the goods arrive late")
    page.get_by_role("button", name="Put this invoice on hold").click()
    expect(answer).to_have_text(f"Not dunned as of {today}: dunning is on hold.")
    expect(page.locator("#dunning-holds tbody tr").nth(0).locator("td").nth(1)).to_have_text(
        "Customer says the goods arrive late"
    )
    shot("dunning-06-invoice-on-hold")

    # A real run now: A-1 moves to the Reminder alone; the outbox holds its one message.
    page.get_by_role("link", name="Dunning").first.click()
    page.get_by_role("link", name="Runs").click()
    page.get_by_label("Dry run (write and send nothing)").uncheck()
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"as of {today}")
    expect(page.locator(".message-success")).to_contain_text("1 message(s) queued, 1 invoice(s) moved")
    expect(page.locator("#messages-by-level tbody td")).to_have_text(["Reminder", "1", "0", "0", "1"])
    shot("dunning-07-run")
    page.get_by_role("link", name="Outbox", exact=True).click()
    outbox = page.locator("#outbox tbody tr")
    expect(outbox).to_have_count(1)
    expect(outbox.nth(0).locator("td").nth(1)).to_have_text("Acme Corp")
    shot("dunning-08-outbox")
    outbox.nth(0).get_by_role("link", name=re.compile(r"^#\d+$")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Email to Acme Corp")
    expect(page.locator("#message-items tbody tr")).to_have_count(1)  # A-2 is on hold
    shot("dunning-09-message")


def test_a_failed_message_shows_its_error_and_a_manager_retries_it(
    page, live_server, books, settings, shot, log_in
):
    # The reminder's one attempt finds no SMTP server: bound, never listening, so the connection is refused.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.RECOUP_SMTP_MAX_ATTEMPTS = 1
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = (
            "127.0.0.1",
            closed.getsockname()[1],
            2,
        )
        result = services.dunning_run(actor=None, as_of=books["today"])
        message = OutboundMessage.objects.get()
        # Delivered as of its send time (which a weekend may put a few days ahead).
        assert delivery.deliver_due(now=message.send_at + dt.timedelta(minutes=1)).counts == {"failed": 1}
    assert result.run is not None
    log_in(live_server.url)
    page.goto(f"{live_server.url}/dunning/outbox/")
    expect(page.locator("#status-counts .has-failed")).to_have_text("Failed 1")
    row = page.locator(f"#message-{message.pk}")
    expect(row).to_have_class("row-failed")
    expect(row.locator("td").nth(8)).to_contain_text("gave up after 1 attempts: ConnectionRefusedError")
    shot("dunning-10-outbox-failed")
    row.get_by_role("button", name="Retry").click()
    expect(row.locator("td").nth(6)).to_have_text("Pending Queued again")
    expect(row).not_to_have_class("row-failed")
    expect(row.get_by_role("button", name="Retry")).to_have_count(0)
    expect(page.locator("#status-counts .status-failed")).to_have_text("Failed 0")
    expect(page.locator("#status-counts .status-pending")).to_have_text("Pending 1")
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("pending", 0)
    shot("dunning-11-outbox-retried")
