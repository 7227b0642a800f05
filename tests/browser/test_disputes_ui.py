"""A manager's walk through a dispute in a real Chromium: open it from the invoice page, attach the customer's
PDF, assign it to a resolver, move it to review, resolve it with a credit note, then read the invoice and
the customer page again: the open amount and the aging moved by the credit. Screenshots land in
test-artifacts/."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from recoup.disputes import defaults, services
from recoup.disputes.models import Dispute, DisputeDocument
from recoup.ledger import services as ledger
from recoup.ledger.models import CreditNote, Invoice
from recoup.users.models import Role, Team, User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PDF = (
    b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
    b"2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"
)


def invoice(customer, external_id: str, *, due: int, amount: str, today: dt.date) -> Invoice:
    return ledger.invoice_create(
        actor=None,
        customer=customer,
        external_id=external_id,
        issue_date=today + dt.timedelta(days=due - 30),
        due_date=today + dt.timedelta(days=due),
        amount=Decimal(amount),
    )


@pytest.fixture
def books(settings, tmp_path):
    """Dates relative to today, since the live server runs on the real clock. The flush of a transactional
    test removed the migration's reasons, so they are installed again. Acme owes 300.00 due 14 days ago
    and 1,000.00 due in 2 days; two other customers have a dispute each, one of them past its SLA."""
    settings.MEDIA_ROOT = tmp_path / "media"
    today = timezone.localdate()
    defaults.install_reasons()
    billing = Team.objects.create(name="Billing")
    User.objects.create_user(
        username="mia", password="pw-mia-manager", role=Role.MANAGER, email="mia@x.example"
    )
    rob = User.objects.create_user(
        username="rob", password="pw-rob", role=Role.RESOLVER, team=billing, email="rob@x.example"
    )
    acme = ledger.customer_create(actor=None, external_id="ACME", name="Acme Corp", currency="USD")
    a1 = invoice(acme, "A-1", due=-14, amount="300.00", today=today)
    invoice(acme, "A-2", due=2, amount="1000.00", today=today)
    beta = ledger.customer_create(actor=None, external_id="BETA", name="Beta GmbH", currency="USD")
    b1 = invoice(beta, "B-1", due=-40, amount="500.00", today=today)
    services.dispute_open(
        actor=None,
        invoice=b1,
        reason="damaged_goods",
        amount="200.00",
        opened_on=today - dt.timedelta(days=20),
        note="Two pallets arrived crushed.",
        owner=rob,
    )
    gamma = ledger.customer_create(actor=None, external_id="GAMMA", name="Gamma SA", currency="USD")
    g1 = invoice(gamma, "G-1", due=-3, amount="80.00", today=today)
    services.dispute_open(actor=None, invoice=g1, reason="quantity", opened_on=today - dt.timedelta(days=1))
    # Two disputes resolved earlier, in 12 days (within a 14-day SLA) and in 15 (past a 10-day one).
    delta = ledger.customer_create(actor=None, external_id="DELTA", name="Delta BV", currency="USD")
    for external_id, reason, days in (("D-1", "damaged_goods", 12), ("D-2", "pricing", 15)):
        made = services.dispute_open(
            actor=None,
            invoice=invoice(delta, external_id, due=-60, amount="50.00", today=today),
            reason=reason,
            opened_on=today - dt.timedelta(days=40),
        )
        services.dispute_resolve(
            actor=None,
            dispute=made,
            outcome="rejected",
            resolved_on=today - dt.timedelta(days=40 - days),
        )
    return {"today": today, "a1": a1, "acme": acme, "rob": rob}


def test_a_manager_opens_a_dispute_and_resolves_it_with_a_credit_note(
    page, live_server, books, shot, tmp_path, log_in
):
    base, today = live_server.url, books["today"]
    iso = today.isoformat()
    log_in(base)

    # The customer page before: A-1 (300.00) is 14 days past due, A-2 (1,000.00) is current.
    page.get_by_role("link", name="Acme Corp").click()
    expect(page.locator("#aging-strip .aging-value")).to_have_text(
        ["1,000.00", "300.00", "0.00", "0.00", "0.00", "0.00", "1,300.00"]
    )
    expect(page.locator("[data-testid=balance-USD]")).to_have_text("1,300.00 USD")

    # The invoice page loads its disputes panel: nothing disputed yet.
    page.locator("#open-invoices").get_by_role("link", name="A-1").click()
    panel = page.locator("#disputes-panel")
    expect(panel.locator("#invoice-disputes tbody tr")).to_have_text(["No disputes on this invoice."])
    expect(panel.locator("#undisputed")).to_have_text("300.00 USD")
    expect(page.get_by_role("form", name="Open a dispute")).to_have_count(0)
    panel.get_by_role("link", name="Open a dispute…").click()
    form = page.get_by_role("form", name="Open a dispute")
    expect(form.get_by_label("Reason")).to_have_value("pricing")

    # Too much is refused on its field, and the panel stays.
    form.get_by_label("Amount").fill("300.01")
    form.get_by_role("button", name="Open dispute").click()
    expect(panel.locator(".field-message")).to_have_text(
        "A-1 has 300.00 USD open and not yet disputed; a dispute of 300.01 would exceed it."
    )
    assert Dispute.objects.filter(invoice=books["a1"]).count() == 0

    form = page.get_by_role("form", name="Open a dispute")
    form.get_by_label("Amount").fill("120.00")
    form.get_by_label("Note").fill("The unit price should be 8.00, not 10.00.")
    shot("disputes-01-invoice-panel-open-form")
    form.get_by_role("button", name="Open dispute").click()

    # The browser goes to the new dispute (HX-Redirect).
    expect(page).to_have_url(re.compile(rf"^{re.escape(base)}/disputes/\d+/$"))
    dispute = Dispute.objects.get(invoice=books["a1"])
    assert page.url == f"{base}/disputes/{dispute.pk}/"
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Dispute #{dispute.pk} on A-1 Open")
    expect(page.locator(".message-success")).to_have_text("Dispute opened on A-1 for 120.00 USD.")
    expect(page.locator("#dispute-amount")).to_have_text("120.00 USD")
    expect(page.locator("#dispute-invoice-open")).to_have_text("300.00 USD")
    expect(page.locator("#dispute-owner")).to_have_text("Unassigned")
    sla_due = (today + dt.timedelta(days=10)).isoformat()
    expect(page.locator("#dispute-sla-due")).to_have_text(sla_due)
    expect(page.locator("#dispute-sla")).to_have_text("On track")

    # Attach the customer's PDF: htmx swaps the story alone.
    pdf = tmp_path / "price-agreement.pdf"
    pdf.write_bytes(PDF)
    upload = page.get_by_role("form", name="Attach a document")
    upload.get_by_label("Document").set_input_files(str(pdf))
    upload.get_by_role("button", name="Upload").click()
    story = page.locator("#story li")
    expect(page.locator("#dispute-story .message-success")).to_have_text("Added price-agreement.pdf.")
    expect(story).to_have_count(2)
    expect(story.nth(1)).to_contain_text("Document price-agreement.pdf")
    document = DisputeDocument.objects.get()
    link = story.nth(1).get_by_role("link", name="price-agreement.pdf")
    download = page.request.get(base + (link.get_attribute("href") or ""))
    assert download.status == 200 and download.body() == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"] == 'attachment; filename="price-agreement.pdf"'
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert document.sha256 and document.size == len(PDF)

    comment = page.get_by_role("form", name="Add a comment")
    comment.get_by_label("Comment").fill("They sent the signed price list.")
    comment.get_by_role("button", name="Add comment").click()
    expect(story).to_have_count(3)
    expect(story.nth(2)).to_contain_text("mia wrote")
    expect(story.nth(2).locator(".story-comment")).to_have_text("They sent the signed price list.")
    expect(page.get_by_role("form", name="Add a comment").get_by_label("Comment")).to_have_value("")

    # Assign it to the resolver: the summary follows, out of band.
    assign = page.get_by_role("form", name="Assign")
    assign.get_by_label("Owner").select_option(label="rob (Billing)")
    assign.get_by_role("button", name="Assign").click()
    expect(page.locator("#dispute-actions .message-success")).to_have_text("Assigned to rob (Billing).")
    expect(page.locator("#dispute-owner")).to_have_text("rob")
    expect(page.locator("#dispute-team")).to_have_text("Team Billing")

    review = page.get_by_role("form", name="Move to review")
    review.get_by_label("Note").fill("Checking the contract price.")
    review.get_by_role("button", name="Move to review").click()
    expect(page.locator("#dispute-status")).to_have_text("In review")
    expect(story).to_have_count(4)
    expect(story.nth(3)).to_contain_text("Open → In review: Checking the contract price.")
    expect(page.get_by_role("form", name="Move to review")).to_have_count(0)

    resolve = page.get_by_role("form", name="Resolve")
    expect(resolve.get_by_label("Outcome").locator("option")).to_have_text(
        ["Credit note", "Rejected", "Customer paid", "Written off"]
    )
    resolve.get_by_label("Outcome").select_option("credit_note")
    resolve.get_by_label("Credit note id").fill("CN-A1-PRICE")
    resolve.get_by_label("Note", exact=True).fill("Agreed: 8.00 a unit.")
    shot("disputes-02-dispute-before-resolving")
    resolve.get_by_role("button", name="Resolve").click()
    expect(page.locator("#dispute-status")).to_have_text("Resolved")
    expect(page.locator("#dispute-outcome")).to_have_text("Credit note")
    expect(page.locator("#dispute-ledger")).to_have_text(
        f"Credit note CN-A1-PRICE of 120.00 USD, applied to A-1 on {iso}"
    )
    expect(page.locator("#dispute-invoice-open")).to_have_text("180.00 USD")
    expect(page.locator("#dispute-sla")).to_have_text("SLA met")
    expect(page.locator("#dispute-closed")).to_have_text(f"Resolved on {iso}: nothing more to do.")
    expect(page.get_by_role("form", name="Resolve")).to_have_count(0)
    expect(story).to_have_count(5)
    expect(story.nth(4)).to_contain_text("In review → Resolved: Agreed: 8.00 a unit.")
    note = CreditNote.objects.get()
    assert (note.external_id, note.amount, note.unapplied_amount) == ("CN-A1-PRICE", Decimal("120.00"), 0)
    expect(page.locator("nav.mainnav")).to_have_count(1)  # no page was swapped in twice
    shot("disputes-03-dispute-resolved")

    # The invoice: 180.00 open, the dispute listed as resolved with its outcome.
    page.locator("#dispute-head").get_by_role("link", name="A-1").click()
    expect(page.locator("#invoice-open")).to_have_text("180.00 USD")
    rows = page.locator("#invoice-disputes tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.nth(0).locator("td")).to_have_text(
        [
            f"#{dispute.pk}",
            iso,
            "Pricing",
            "120.00 USD",
            "rob (Billing)",
            "Resolved Credit note",
            f"{sla_due} SLA met",
        ]
    )
    expect(page.locator("#undisputed")).to_have_text("180.00 USD")
    expect(page.locator("#allocations tbody tr").nth(0).locator("td").nth(2)).to_have_text("CN-A1-PRICE")
    page.locator("#disputes-panel").scroll_into_view_if_needed()
    shot("disputes-04-invoice-after")

    # The customer page: the open balance and the 1-30 bucket fell by the credit.
    page.get_by_role("link", name="Acme Corp").first.click()
    expect(page.locator("[data-testid=balance-USD]")).to_have_text("1,180.00 USD")
    expect(page.locator("#aging-strip .aging-value")).to_have_text(
        ["1,000.00", "180.00", "0.00", "0.00", "0.00", "0.00", "1,180.00"]
    )
    expect(page.locator("#credit-notes tbody tr").nth(0).locator("td").nth(0)).to_have_text("CN-A1-PRICE")
    shot("disputes-05-customer-after")


def test_the_queue_filters_with_htmx_and_shows_the_sla_in_words(page, live_server, books, shot, log_in):
    base, today = live_server.url, books["today"]
    log_in(base)
    page.locator("nav.mainnav").get_by_role("link", name="Disputes").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dispute queue")
    rows = page.locator("#disputes tbody tr")
    expect(rows).to_have_count(2)
    # Oldest first: Beta's opened 20 days ago, its 14-day SLA is past.
    beta = rows.nth(0)
    expect(beta).to_have_class("row-overdue")
    expect(beta.locator("td").nth(2)).to_have_text("Beta GmbH")
    expect(beta.locator("td").nth(5)).to_have_text("rob (Billing)")
    expect(beta.locator("td").nth(8)).to_have_text("20")
    sla = beta.locator("td.sla")
    expect(sla).to_have_text(f"{(today - dt.timedelta(days=6)).isoformat()} SLA overdue")
    expect(sla).to_have_class(re.compile(r"\boverdue\b"))
    assert sla.evaluate("el => getComputedStyle(el).color") == "rgb(180, 35, 24)"  # --danger
    expect(rows.nth(1).locator("td").nth(2)).to_have_text("Gamma SA")
    expect(rows.nth(1).locator("td.sla")).to_contain_text("On track")
    expect(page.locator("#figure-open")).to_have_text("2")
    expect(page.locator("#figure-cycle")).to_have_text("13.5 days")
    expect(page.locator("#figure-cycle-sub")).to_contain_text("mean; median 13.5 days · 2 resolved")
    expect(page.locator("#figure-sla")).to_have_text("50%")
    expect(page.locator("#figure-reasons li")).to_have_text(["Damaged goods 1", "Quantity 1"])
    # Overdue AR: Acme 300.00, Beta 500.00, Gamma 80.00 and Delta 100.00; under dispute Beta's 200.00 and
    # Gamma's 80.00 (Delta's disputes were rejected).
    expect(page.locator("#figure-share")).to_have_text("28.6%")
    expect(page.locator("#figure-share-sub")).to_have_text("280.00 USD of 980.00 USD")
    shot("disputes-06-queue")

    # Filtering swaps the table alone and keeps the filter in the address bar.
    page.evaluate("window.marker = 'still here'")
    page.get_by_label("SLA").select_option("overdue")
    expect(rows).to_have_count(1)
    expect(rows.nth(0).locator("td").nth(2)).to_have_text("Beta GmbH")
    expect(page).to_have_url(re.compile(r"sla=overdue"))
    page.locator("#queue-tabs").get_by_role("link", name="Mine").click()
    expect(rows).to_have_text(["No disputes match these filters."])
    expect(page).to_have_url(re.compile(r"scope=mine.*sla=overdue|sla=overdue.*scope=mine"))
    expect(page.locator("#queue-tabs [aria-current=page]")).to_have_text("Mine")
    page.locator("#queue-tabs").get_by_role("link", name="All").click()
    expect(page.locator("#queue-tabs [aria-current=page]")).to_have_text("All")
    expect(rows).to_have_count(1)
    page.get_by_label("Status").select_option("resolved")
    expect(rows).to_have_text(["No disputes match these filters."])  # resolved ones are never overdue
    page.get_by_label("SLA").select_option(value="")
    expect(page).to_have_url(re.compile(r"sla=&|sla=$"))
    page.get_by_label("Status").select_option("active")
    expect(rows).to_have_count(2)
    # Two resolved disputes also make two rows: wait for the active ones before following a link.
    expect(rows.nth(0).locator("td").nth(2)).to_have_text("Beta GmbH")
    assert page.evaluate("window.marker") == "still here"  # no full reload
    expect(page.locator("nav.mainnav")).to_have_count(1)

    page.locator("#disputes").get_by_role("link", name=re.compile(r"^#\d+$")).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("on B-1")
    expect(page.locator("#dispute-head .badge-danger")).to_have_text("SLA overdue")
    shot("disputes-07-dispute-overdue")

    page.locator("#dispute-head").get_by_role("link", name="Disputes").click()
    page.get_by_role("link", name="Reasons").click()
    expect(page.locator("#reasons tbody tr")).to_have_count(7)
    row = page.locator("#reasons tbody tr", has_text="Pricing")
    row.get_by_role("link", name="Edit the reason Pricing").click()
    editor = page.get_by_role("form", name="The reason Pricing")
    editor.get_by_label("SLA (days)").fill("7")
    editor.get_by_role("button", name="Save reason").click()
    expect(page.locator("#reasons tbody tr", has_text="Pricing").locator("td").nth(2)).to_have_text("7 days")
    shot("disputes-08-reasons")
