"""Emails a collector sends by hand from a template: rendered when queued, sent once over real SMTP through
the outbox (same claim, Message-ID scheme, retries), idempotent by request key, on the timeline once sent,
and never taken for a reminder by dunning's gap logic or the effectiveness report."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.urls import reverse

from recoup.activity.models import EntryKind, TimelineEntry
from recoup.core.errors import DomainError
from recoup.core.models import Event
from recoup.dunning import delivery, services
from recoup.dunning.defaults import MESSAGE_TEMPLATES
from recoup.dunning.manual import email_preview, email_send, install_message_templates, message_template_save
from recoup.dunning.models import MessageStatus, MessageTemplate, OutboundMessage
from recoup.dunning.rendering import compile_template
from recoup.ledger import services as ledger
from recoup.ledger.tests.test_views import logged_in
from recoup.reports.effectiveness import reminder_effectiveness

D = dt.date
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
pytestmark = pytest.mark.django_db
KEY = "0f8c1d2e-4a5b-4c6d-8e9f-a0b1c2d3e4f5"


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture
def template():
    return message_template_save(
        actor=None,
        name="Following up",
        language="en",
        subject="{{ company_name }}: {{ invoice_count }} invoice{{ invoice_count|pluralize }}, "
        "{{ total_due }}",
        body="Dear {{ contact_name|default:customer_name }},\n\nAs discussed with {{ customer_name }}: "
        "{% for i in invoices %}{{ i.number }} ({{ i.due }}){% endfor %}.\n\n{{ sender_name }}",
    )


@pytest.fixture
def acme(books):
    customer = books.customer("ACME", emails=(), name="Acme <Tools> & Sons")
    ledger.contact_create(actor=None, customer=customer, name="Pat Payables", email="pat@acme.example")
    ledger.contact_create(actor=None, customer=customer, name="", email="ap@acme.example")
    ledger.contact_create(
        actor=None, customer=customer, name="Sales", email="sales@acme.example", is_ap=False
    )
    a1 = books.invoice(customer, D(2026, 5, 1), "250.00", external_id="A-1")
    a2 = books.invoice(customer, D(2026, 5, 20), "90.00", external_id="A-2")
    return customer, a1, a2


def text_of(received) -> str:
    return received.text.replace("\r\n", "\n")  # SMTP carries CRLF line ends


def send(collector, customer, template, key=KEY, **kwargs):
    return email_send(actor=collector, customer=customer, template=template, request_key=key, **kwargs)


def test_an_email_from_a_template_goes_out_once_over_smtp_and_lands_on_the_timeline(
    acme, template, collector, smtp, django_capture_on_commit_callbacks
):
    customer, a1, _ = acme
    collector.first_name, collector.last_name = "Cole", "Lector"
    collector.save()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message, created = send(collector, customer, template, invoices=[a1])

    assert created is True and len(callbacks) == 1
    message.refresh_from_db()
    assert (message.level_id, message.template_id, message.author_id, message.request_key) == (
        None,
        template.pk,
        collector.pk,
        KEY,
    )
    assert (message.status, message.attempts, message.channel, message.as_of) == (
        "sent",
        1,
        "email",
        NOW.date(),
    )
    assert message.recipients == ["pat@acme.example", "ap@acme.example"]  # the AP contacts, not Sales
    assert message.key == f"manual:{KEY}"
    assert re.fullmatch(r"<dunning\.[0-9a-f]{32}@acme\.example>", message.message_id)
    assert message.subject == "Acme Supplies: 1 invoice, 250.00 USD"
    [received] = smtp.received
    assert received.rcpt_tos == ["pat@acme.example", "ap@acme.example"]
    assert received.message["Message-ID"] == message.message_id
    assert received.message["X-Recoup-Key"] == f"manual:{KEY}"
    assert received.message["Subject"] == "Acme Supplies: 1 invoice, 250.00 USD"
    assert received.message["In-Reply-To"] is None
    assert received.structure() == ["multipart/alternative", "text/plain", "text/html"]  # no statement
    assert text_of(received).startswith(
        "Dear Pat Payables,\n\nAs discussed with Acme <Tools> & Sons: A-1 (250.00 USD).\n\nCole Lector\n"
    )
    assert "A-1  due 2026-05-01 (31 days overdue)  250.00 USD" in received.text
    assert "A-2" not in received.text and "statement" not in received.text
    assert text_of(received).endswith("\n\nTotal due: 250.00 USD\n\nReference: ACME, as of 2026-06-01.\n")
    assert "Acme &lt;Tools&gt; &amp; Sons" in received.html and "<Tools>" not in received.html
    assert text_of(received) == message.body_text
    assert received.html.replace("\r\n", "\n") == message.body_html
    [entry] = TimelineEntry.objects.filter(kind=EntryKind.EMAIL_OUT)
    assert (entry.customer_id, entry.title, entry.status, entry.actor_id) == (
        customer.pk,
        "Email: Acme Supplies: 1 invoice, 250.00 USD",
        "sent",
        collector.pk,
    )
    assert (entry.source_type, entry.source_id, entry.body) == (
        "dunning.outboundmessage",
        str(message.pk),
        message.body_text,
    )
    assert list(entry.invoices.values_list("external_id", flat=True)) == ["A-1"]
    assert Event.objects.filter(verb="email.queued", target_id=str(message.pk)).count() == 1


def test_the_same_request_key_returns_the_first_row_and_sends_nothing_more(
    acme, template, collector, smtp, django_capture_on_commit_callbacks
):
    customer, a1, a2 = acme
    with django_capture_on_commit_callbacks(execute=True):
        first, created = send(collector, customer, template, invoices=[a1])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again, created_again = send(collector, customer, template, invoices=[a1, a2])

    assert (created, created_again, again.pk, callbacks) == (True, False, first.pk, [])
    assert list(again.invoices.values_list("external_id", flat=True)) == ["A-1"]
    assert OutboundMessage.objects.count() == 1 and len(smtp.received) == 1
    assert TimelineEntry.objects.filter(kind=EntryKind.EMAIL_OUT).count() == 1
    other = ledger.customer_create(actor=None, external_id="OTHER", name="Other")
    with pytest.raises(DomainError, match="used for another message") as refused:
        send(collector, other, template)
    assert refused.value.field == "request_key"


def test_a_chosen_contact_gets_it_alone(acme, template, collector, smtp, django_capture_on_commit_callbacks):
    customer, *_ = acme
    sales = customer.contacts.get(name="Sales")
    with django_capture_on_commit_callbacks(execute=True):
        message, _ = send(collector, customer, template, contact=sales)

    assert message.recipients == ["sales@acme.example"]
    assert [r.rcpt_tos for r in smtp.received] == [["sales@acme.example"]]
    assert text_of(smtp.received[0]).startswith("Dear Sales,\n\nAs discussed with Acme <Tools> & Sons: .\n")
    assert "Total due" not in smtp.received[0].text  # no invoice chosen: no table
    assert "<table" not in smtp.received[0].html


@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        ({"key": "short"}, "request_key", "request key of 8 to 64"),
        ({"key": "has spaces in it"}, "request_key", "request key of 8 to 64"),
        ({"inactive": True}, "template", "no longer in use"),
        ({"stranger_invoice": True}, "invoices", "must belong to the customer"),
        ({"stranger_contact": True}, "contact", "belongs to another customer"),
        ({"phone_contact": True}, "contact", "has no email address"),
        ({"recipients": ["not-an-address"]}, "recipients", "is not an email address"),
        ({"no_contacts": True}, "contact", "no AP contact with an email address"),
        ({"send_at": dt.datetime(2026, 6, 2, 9, 0)}, "send_at", "with its time zone"),
        ({"send_at": NOW + dt.timedelta(days=91)}, "send_at", "at most 90 days ahead"),
    ],
)
def test_a_refused_email_writes_and_sends_nothing(
    acme, template, collector, smtp, django_capture_on_commit_callbacks, change, field, text
):
    customer, *_ = acme
    kwargs: dict = {}
    key = change.get("key", KEY)
    if change.get("inactive"):
        template.is_active = False
        template.save()
    if change.get("stranger_invoice"):
        other = ledger.customer_create(actor=None, external_id="OTHER", name="Other")
        kwargs["invoices"] = [
            ledger.invoice_create(
                actor=None,
                customer=other,
                external_id="O-1",
                issue_date=D(2026, 4, 1),
                due_date=D(2026, 5, 1),
                amount="10.00",
            )
        ]
    if change.get("stranger_contact"):
        other = ledger.customer_create(actor=None, external_id="OTHER", name="Other")
        kwargs["contact"] = ledger.contact_create(actor=None, customer=other, email="x@other.example")
    if change.get("phone_contact"):
        kwargs["contact"] = ledger.contact_create(actor=None, customer=customer, name="Desk", phone="+1 555")
    if "recipients" in change:
        kwargs["recipients"] = change["recipients"]
    if change.get("no_contacts"):
        customer.contacts.all().delete()
    if "send_at" in change:
        kwargs["send_at"] = change["send_at"]

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(DomainError, match=text) as e,
    ):
        send(collector, customer, template, key=key, **kwargs)

    assert e.value.field == field
    assert (OutboundMessage.objects.count(), callbacks, smtp.received) == (0, [], [])
    assert not Event.objects.filter(verb="email.queued").exists()


def test_a_4xx_is_retried_with_the_same_message_id_and_a_5xx_fails_visibly(
    acme, template, collector, smtp, settings, clock, django_capture_on_commit_callbacks
):
    settings.RECOUP_SMTP_RETRY_SECONDS = 60
    customer, a1, _ = acme
    smtp.refuse_next = ["451 4.3.0 try again later"]
    with django_capture_on_commit_callbacks(execute=True):
        message, _ = send(collector, customer, template, invoices=[a1])
    message.refresh_from_db()
    after_first = (message.status, message.attempts, message.last_error)
    clock.shift(dt.timedelta(seconds=61))
    retried = delivery.deliver_due().counts
    message.refresh_from_db()

    assert after_first == ("pending", 1, "attempt 1: SMTP 451: 4.3.0 try again later")
    assert retried == {"sent": 1} and (message.status, message.attempts) == ("sent", 2)
    [received] = smtp.received
    assert received.message["Message-ID"] == message.message_id

    smtp.refuse_next = ["550 5.1.1 mailbox unavailable"]
    with django_capture_on_commit_callbacks(execute=True):
        failed, _ = send(collector, customer, template, key="second-request-0001")
    failed.refresh_from_db()
    assert (failed.status, failed.last_error) == ("failed", "SMTP 550: 5.1.1 mailbox unavailable")
    assert delivery.deliver_due().counts == {}
    assert TimelineEntry.objects.filter(kind=EntryKind.EMAIL_OUT).count() == 1  # the first one only
    services.message_retry(actor=None, message=failed)
    assert delivery.deliver_due().counts == {"sent": 1}
    assert [r.message["Message-ID"] for r in smtp.received] == [message.message_id, failed.message_id]
    assert TimelineEntry.objects.filter(kind=EntryKind.EMAIL_OUT).count() == 2


def test_a_row_without_recipients_fails_with_the_reason(acme, template, collector, smtp):
    customer, *_ = acme
    message, _ = send(collector, customer, template)  # no on_commit here: nothing is sent yet
    OutboundMessage.objects.filter(pk=message.pk).update(recipients=[])

    assert delivery.deliver_due().counts == {"failed": 1}
    message.refresh_from_db()
    assert (
        message.last_error == "the email has no recipient; queue it again with a contact that has an address"
    )
    assert smtp.received == []


def test_an_email_scheduled_later_waits_for_its_time(
    acme, template, collector, smtp, clock, django_capture_on_commit_callbacks
):
    customer, *_ = acme
    later = NOW + dt.timedelta(hours=3)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message, _ = send(collector, customer, template, send_at=later)

    assert (callbacks, delivery.deliver_due().counts, smtp.received) == ([], {}, [])
    clock.move_to(later + dt.timedelta(seconds=1))
    assert delivery.deliver_due().counts == {"sent": 1}
    message.refresh_from_db()
    assert message.send_at == later and message.status == MessageStatus.SENT


def test_a_manual_email_is_no_reminder_for_dunning_nor_for_the_effectiveness_report(
    acme, template, collector, smtp, django_capture_on_commit_callbacks
):
    customer, a1, _ = acme
    with django_capture_on_commit_callbacks(execute=True):
        manual, _ = send(collector, customer, template, invoices=[a1])
    result = services.dunning_run(actor=None, as_of=NOW.date())
    assert result.report["skipped"].get("contacted_today") is None
    assert result.report["messages_total"] == 1 and delivery.deliver_due().counts == {"sent": 1}
    reminder = OutboundMessage.objects.exclude(pk=manual.pk).get()
    # A reminder threads only onto reminders, never onto an email a person sent.
    assert smtp.received[1].message["Message-ID"] == reminder.message_id
    assert smtp.received[1].message["In-Reply-To"] is None

    report = reminder_effectiveness(start=NOW.date(), end=NOW.date())
    assert (report.overall.sends, [name for name in report.by_level]) == (1, ["Reminder"])


def test_a_preview_renders_what_would_go_out_and_writes_nothing(acme, template, collector):
    customer, a1, a2 = acme
    rendered = email_preview(customer=customer, template=template, invoices=[a2, a1], author=collector)

    assert rendered.subject == "Recoup: 2 invoices, 340.00 USD"
    assert "A-1 (250.00 USD)A-2 (90.00 USD)" in rendered.text  # by due date, whatever the order given
    assert OutboundMessage.objects.count() == 0


def test_templates_are_checked_when_saved(collector):
    base = {"actor": collector, "name": "Plan", "language": "en", "subject": "Hi", "body": "Body"}
    made = message_template_save(**base)
    for change, field, text in (
        ({"name": " "}, "name", "Name the template"),
        ({"language": ""}, "language", "language"),
        ({"tone": "angry"}, "tone", "friendly, firm"),
        ({"body": "{% load static %}"}, "body", r"\{% load %\} is not allowed"),
        ({"subject": "{{ total_due|nosuch }}"}, "subject", "not a valid template"),
        ({"subject": ""}, "subject", "subject"),
        ({"name": "Plan", "language": "EN"}, "name", "already exists"),
    ):
        with pytest.raises(DomainError, match=text) as refused:
            message_template_save(**{**base, **change})
        assert refused.value.field == field
    changed = message_template_save(**{**base, "subject": "Hello {{ customer_name }}"}, template=made)
    assert (changed.pk, MessageTemplate.objects.filter(name="Plan").count()) == (made.pk, 1)
    assert changed.subject == "Hello {{ customer_name }}"
    assert Event.objects.filter(verb__startswith="message_template.").count() == 2


def test_the_built_in_templates_exist_and_render(acme, collector):
    customer, a1, _ = acme
    names = sorted(name for name, *_ in MESSAGE_TEMPLATES)

    assert sorted(MessageTemplate.objects.values_list("name", flat=True)) == names  # migration 0004
    assert install_message_templates() == 0
    for template in MessageTemplate.objects.all():
        compile_template(template.subject)
        compile_template(template.body)
        rendered = email_preview(customer=customer, template=template, invoices=[a1], author=collector)
        assert rendered.subject.startswith("Recoup: ") and "Pat Payables" in rendered.text
    MessageTemplate.objects.all().delete()
    assert install_message_templates() == 5


def test_managers_edit_the_templates_others_only_read_them(manager, collector, viewer):
    url = reverse("dunning-email-templates")
    listed = logged_in(viewer).get(url)
    assert listed.status_code == 200 and "Following up on our call" in listed.content.decode()
    assert 'aria-label="A new email template"' not in listed.content.decode()
    data = {
        "name": "Plan B",
        "language": "en",
        "tone": "firm",
        "subject": "Hi",
        "body": "Dear {{ x }}",
        "is_active": "on",
    }
    assert logged_in(collector).post(url, data).status_code == 403
    plan = MessageTemplate.objects.get(name="Following up on our call")
    assert logged_in(collector).get(reverse("dunning-email-template-edit", args=[plan.pk])).status_code == 403
    assert not MessageTemplate.objects.filter(name="Plan B").exists()

    client = logged_in(manager)
    refused = client.post(url, {**data, "body": "{% load static %}"})
    assert refused.status_code == 400 and "{% load %} is not allowed" in refused.content.decode()
    assert client.post(url, data)["Location"] == url
    made = MessageTemplate.objects.get(name="Plan B")
    assert (made.tone, made.subject, made.body, made.is_active) == ("firm", "Hi", "Dear {{ x }}", True)
    edit = reverse("dunning-email-template-edit", args=[made.pk])
    assert 'value="Plan B"' in client.get(edit).content.decode()
    assert client.post(edit, {**data, "subject": "Hello", "is_active": ""})["Location"] == url
    made.refresh_from_db()
    assert (made.subject, made.is_active) == ("Hello", False)
