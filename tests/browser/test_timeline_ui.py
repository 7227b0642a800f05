"""A collector's walk through a customer's timeline in a real Chromium: log a call with a promise to pay in
one form, see the promise on the timeline, send an email from a template (previewed first), add a note;
then a payment is imported through the real import service, and the collector sees the promise kept.
Screenshots land in test-artifacts/."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from recoup.activity.models import Call, Promise
from recoup.dunning import defaults, policies, services
from recoup.dunning.manual import install_message_templates
from recoup.dunning.models import OutboundMessage
from recoup.ledger import services as ledger
from recoup.ledger.imports.run import import_file
from recoup.users.models import Role, User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def books():
    """Dates relative to today (the live server runs on the real clock). The flush of a transactional test
    removed what the migrations made (the default policy, the email templates): they are made again."""
    today = timezone.localdate()
    services.policy_save(actor=None, spec=policies.parse_policy(defaults.DEFAULT_POLICY))
    install_message_templates()
    cole = User.objects.create_user(
        username="cole",
        password="pw-cole-collector",
        role=Role.COLLECTOR,
        first_name="Cole",
        email="c@x.example",
    )
    User.objects.create_user(username="mia", password="pw-mia", role=Role.MANAGER, email="mia@x.example")
    acme = ledger.customer_create(
        actor=None, external_id="ACME", name="Acme Corp", currency="USD", collector=cole
    )
    ledger.contact_create(
        actor=None, customer=acme, name="Pat Payables", email="pat@acme.example", phone="+1 555"
    )
    for external_id, due, amount in (("A-1", -20, "300.00"), ("A-2", 5, "450.00")):
        ledger.invoice_create(
            actor=None,
            customer=acme,
            external_id=external_id,
            issue_date=today + dt.timedelta(days=due - 30),
            due_date=today + dt.timedelta(days=due),
            amount=Decimal(amount),
        )
    return {"today": today, "acme": acme}


def test_a_collector_logs_a_call_with_a_promise_and_sees_it_kept_once_the_payment_is_imported(
    page, live_server, books, shot, log_in, tmp_path
):
    base, today, acme = live_server.url, books["today"], books["acme"]
    promised = today + dt.timedelta(days=3)
    log_in(base, "cole", "pw-cole-collector", then=f"/customers/{acme.pk}/")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Nothing has happened with this customer yet.")
    # The worklist's suggestion shows above the actions: an overdue balance nobody works, with a phone.
    expect(page.locator("#next-action")).to_have_attribute("data-code", "call")

    # Click 1: the form opens in place. Click 2: the call and its promise are saved together.
    page.get_by_role("link", name="Log call").click()
    form = page.get_by_role("form", name="Log a call")
    expect(form).to_be_visible()
    form.get_by_label("Reached").check()
    form.get_by_label("Contact").select_option(label="Pat Payables")
    form.get_by_label("Duration (minutes)").fill("4")
    form.locator("#id_call_invoices_0").check()  # A-1, discussed
    form.get_by_label("Notes").fill("Pat confirms A-1 goes out in this week's payment run.")
    form.get_by_label("Promised amount").fill("300.00")
    form.get_by_label("Promised by").fill(promised.isoformat())
    form.locator("#id_call_promise_invoices_0").check()  # the promise covers A-1
    shot("timeline-01-call-form")
    form.get_by_role("button", name="Save call").click()

    notice = page.locator("#activity-notice")
    expect(notice).to_have_text(
        f"Call logged: reached. Promise to pay 300.00 USD by {promised.isoformat()} recorded."
    )
    expect(page.get_by_role("form", name="Log a call")).to_have_count(0)
    items = timeline.locator("li.timeline-entry")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_contain_text(f"Promise to pay 300.00 USD by {promised.isoformat()}")
    expect(items.nth(0)).to_contain_text("pending")
    expect(items.nth(1)).to_contain_text("Call with Pat Payables: reached, 4 min")
    expect(items.nth(1).get_by_role("link", name="A-1")).to_have_attribute(
        "href", re.compile(r"/invoices/\d+/$")
    )
    call = Call.objects.get()
    assert (call.outcome, call.duration_seconds, call.promise.status) == ("reached", 240, "pending")
    shot("timeline-02-promise-on-timeline")

    # An email from a template: the preview follows the choices, the hidden request key sends it once.
    page.get_by_role("link", name="Send email").click()
    email_form = page.get_by_role("form", name="Send an email")
    email_form.get_by_label("Template").select_option(label="Following up on our call (en)")
    email_form.locator("#id_email_invoices_0").check()
    expect(page.locator("#email-preview-subject")).to_have_text("Recoup: following up on our call")
    expect(page.locator("#email-preview-text")).to_contain_text("A-1  due")
    shot("timeline-03-email-preview")
    email_form.get_by_role("button", name="Send email").click()
    expect(notice).to_have_text("Email sent to pat@acme.example: Recoup: following up on our call")
    expect(items.nth(0)).to_contain_text("Email: Recoup: following up on our call")
    assert OutboundMessage.objects.filter(level__isnull=True).count() == 1
    assert [m.to for m in mail.outbox] == [["pat@acme.example"]]

    page.get_by_role("link", name="Add note").click()
    page.get_by_role("form", name="Add a note").get_by_label("Note").fill("@mia FYI: promise for Friday.")
    page.get_by_role("button", name="Save note").click()
    expect(notice).to_have_text("Note added. Told by email: mia.")

    # The bank file arrives: the payment is imported through the import service, as `recoup import` does.
    csv = tmp_path / "payments.csv"
    csv.write_text(f"external_id,customer,date,amount,invoice\nPAY-1,ACME,{today.isoformat()},300.00,A-1\n")
    totals = import_file(kind="payments", path=csv)
    assert totals.rows == 1
    assert Promise.objects.get().status == "kept"

    page.reload()
    expect(timeline.locator("li.timeline-entry").nth(0)).to_contain_text("Promise kept: 300.00 USD paid")
    expect(timeline).to_contain_text("Payment PAY-1")
    payment = timeline.locator("li.kind-payment")
    expect(payment).to_contain_text("300.00 USD")
    expect(payment.get_by_role("link", name="A-1")).to_be_visible()
    shot("timeline-04-promise-kept")

    # Filters: the promises alone, then what concerns A-2 (nothing yet).
    page.get_by_label("Show").select_option(label="Promises")
    promises = timeline.locator("li.timeline-entry")
    expect(promises).to_have_count(2)
    expect(promises.nth(0)).to_contain_text("Promise kept")
    page.get_by_label("Show").select_option(label="Everything")
    page.locator("#id_timeline_invoice").select_option(label="A-2")
    expect(timeline).to_contain_text("Nothing on the timeline matches these filters.")
    shot("timeline-05-filtered")
