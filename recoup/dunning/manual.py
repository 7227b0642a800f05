"""Emails a person sends by hand from a MessageTemplate, through the dunning outbox (docs/dunning.md, "Manual
emails").

Such an email has no level. Its subject and bodies are rendered when it is queued, from the template with the
customer, the invoices the sender chose (as they stand then) and the sender's name, so what the collector
previewed is what goes out, and a retry sends the same bytes. Its idempotency key is `request_key`, one per
submitted form or API request: a double submit, or a retried request, returns the row the first one wrote.
From there it takes the reminders' path: claim, send, mark sent, retries with backoff, the same Message-ID
scheme, and an EMAIL_OUT entry on the customer's timeline once sent.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from recoup.core.errors import DomainError
from recoup.core.events import record_event
from recoup.core.mail import new_message_id
from recoup.dunning import defaults, tasks
from recoup.dunning.models import Channel, MessageTemplate, OutboundMessage, Tone
from recoup.dunning.planning import disputed_amounts
from recoup.dunning.policies import check_template
from recoup.dunning.rendering import Letter, Line, RenderedEmail, render_email
from recoup.ledger.models import Contact, Customer, Invoice

REQUEST_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,63}")
MAX_RECIPIENTS = 20
MAX_INVOICES = 100
MAX_AHEAD = dt.timedelta(days=90)


# Templates --------------------------------------------------------------------------------------------------


@transaction.atomic
def message_template_save(
    *,
    actor: Any,
    name: str,
    language: str,
    subject: str,
    body: str,
    tone: str = Tone.FRIENDLY,
    is_active: bool = True,
    template: MessageTemplate | None = None,
) -> MessageTemplate:
    """Create a template (`template` None) or change one. The texts must be valid template syntax, in the
    same locked-down engine as the dunning templates."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise DomainError("Name the template in at most 100 characters.", field="name")
    language = (language or "").strip().lower()
    if not language or len(language) > 16:
        raise DomainError("Name the template's language, e.g. en or fr.", field="language")
    if tone not in Tone.values:
        raise DomainError(f"The tone is one of {', '.join(Tone.values)}.", field="tone")
    text = check_template(subject, body, where="The template")
    taken = MessageTemplate.objects.filter(name=name, language=language)
    if template is not None:
        taken = taken.exclude(pk=template.pk)
    if taken.exists():
        raise DomainError(f"A template named {name!r} in {language} already exists.", field="name")
    created = template is None
    template = template or MessageTemplate()
    template.name, template.language, template.tone = name, language, tone
    template.subject, template.body, template.is_active = text["subject"], text["body"], is_active
    template.save()
    record_event(
        actor=actor,
        verb="message_template.created" if created else "message_template.updated",
        target=template,
        data={"name": name, "language": language},
    )
    return template


def install_message_templates() -> int:
    """The built-in templates migration 0004 makes, made again where they are missing (after a test's flush);
    returns how many were created."""
    created = 0
    for name, tone, subject, body in defaults.MESSAGE_TEMPLATES:
        _, made = MessageTemplate.objects.get_or_create(
            name=name, language="en", defaults={"tone": tone, "subject": subject, "body": body}
        )
        created += int(made)
    return created


# What goes out ----------------------------------------------------------------------------------------------


def _zone(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def recipients_for(
    customer: Customer, *, contact: Contact | None = None, recipients: Sequence[str] | None = None
) -> list[str]:
    """Who gets it: the chosen contact, else the addresses given, else every AP contact with an email."""
    if contact is not None:
        if contact.customer_id != customer.pk:
            raise DomainError("The contact belongs to another customer.", field="contact")
        if not contact.email:
            raise DomainError(f"{contact} has no email address; choose another contact.", field="contact")
        return [contact.email]
    if recipients:
        addresses = list(dict.fromkeys(address.strip() for address in recipients if address.strip()))
        if len(addresses) > MAX_RECIPIENTS:
            raise DomainError(f"Send to at most {MAX_RECIPIENTS} addresses.", field="recipients")
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError as exc:
                raise DomainError(f"{address!r} is not an email address.", field="recipients") from exc
        return addresses
    addresses = list(
        Contact.objects.filter(customer=customer, is_ap=True)
        .exclude(email="")
        .order_by("id")
        .values_list("email", flat=True)
    )
    if not addresses:
        raise DomainError(
            f"{customer.name} has no AP contact with an email address; add one, or choose a contact.",
            field="contact",
        )
    return addresses


def manual_letter(
    *,
    customer: Customer,
    template: MessageTemplate,
    invoices: Sequence[Invoice] = (),
    contact: Contact | None = None,
    author: Any = None,
    as_of: dt.date | None = None,
) -> Letter:
    """What the template renders from: the customer, the chosen invoices as they stand now, the sender."""
    if len(invoices) > MAX_INVOICES:
        raise DomainError(f"Choose at most {MAX_INVOICES} invoices.", field="invoices")
    if any(invoice.customer_id != customer.pk for invoice in invoices):
        raise DomainError("Every invoice must belong to the customer.", field="invoices")
    as_of = as_of or timezone.localtime(timezone.now(), _zone(customer.timezone)).date()
    disputed = disputed_amounts(as_of, [customer.pk]) if invoices else {}
    lines = [
        Line(
            number=invoice.external_id,
            issue_date=invoice.issue_date,
            due_date=invoice.due_date,
            days_past_due=(as_of - invoice.due_date).days,
            currency=invoice.currency,
            amount=invoice.amount,
            open=invoice.open_amount,
            disputed=min(disputed.get(invoice.pk, Decimal(0)), invoice.open_amount),
            invoice_id=invoice.pk,
        )
        for invoice in sorted(invoices, key=lambda invoice: (invoice.due_date, invoice.pk))
    ]
    if contact is None or not contact.name:
        contact = (
            Contact.objects.filter(customer=customer, is_ap=True).exclude(name="").order_by("id").first()
        )
    sender = ""
    if getattr(author, "pk", None):
        sender = author.get_full_name() or author.username
    return Letter(
        as_of=as_of,
        customer_name=customer.name,
        customer_ref=customer.external_id,
        contact_name=contact.name if contact else "",
        level_name="",
        language=template.language,
        lines=lines,
        subject_template=template.subject,
        body_template=template.body,
        sender_name=sender,
    )


def email_preview(
    *,
    customer: Customer,
    template: MessageTemplate,
    invoices: Sequence[Invoice] = (),
    contact: Contact | None = None,
    author: Any = None,
) -> RenderedEmail:
    """The email `email_send` would queue now; nothing is written."""
    letter = manual_letter(
        customer=customer, template=template, invoices=invoices, contact=contact, author=author
    )
    return _render(letter)


def _render(letter: Letter) -> RenderedEmail:
    try:
        return render_email(letter, statement_attached=False)
    except Exception as exc:  # a template that compiles can still fail on its values: refuse, never 500
        raise DomainError(f"The template cannot be rendered: {exc}", field="template") from exc


@transaction.atomic
def email_send(
    *,
    actor: Any,
    customer: Customer,
    template: MessageTemplate,
    request_key: str,
    contact: Contact | None = None,
    recipients: Sequence[str] | None = None,
    invoices: Sequence[Invoice] = (),
    send_at: dt.datetime | None = None,
) -> tuple[OutboundMessage, bool]:
    """Queue an email from `template` to the customer; the flag says whether this call wrote it.

    The same `request_key` returns the row it first wrote, whatever else the repeat says. Delivery is asked
    for once this commits: in the embedded mode the email goes out in this process, with workers a task sends
    it. A message due later waits for the dispatcher (beat) or `recoup dunning send`.
    """
    request_key = (request_key or "").strip()
    if not REQUEST_KEY.fullmatch(request_key):
        raise DomainError(
            "Give a request key of 8 to 64 letters, digits, '.', '_', ':' or '-' (a UUID will do).",
            field="request_key",
        )
    existing = OutboundMessage.objects.filter(request_key=request_key).first()
    if existing is not None:
        return _repeat(existing, customer), False
    if not template.is_active:
        raise DomainError(f"The template {template} is no longer in use.", field="template")
    now = timezone.now()
    if send_at is not None and timezone.is_naive(send_at):
        raise DomainError("Give the send time with its time zone.", field="send_at")
    send_at = max(send_at or now, now)
    if send_at > now + MAX_AHEAD:
        raise DomainError(f"Schedule it at most {MAX_AHEAD.days} days ahead.", field="send_at")
    addresses = recipients_for(customer, contact=contact, recipients=recipients)
    as_of = timezone.localtime(send_at, _zone(customer.timezone)).date()
    letter = manual_letter(
        customer=customer, template=template, invoices=invoices, contact=contact, author=actor, as_of=as_of
    )
    rendered = _render(letter)
    try:
        with transaction.atomic():
            message = OutboundMessage.objects.create(
                customer=customer,
                level=None,
                template=template,
                author=actor if getattr(actor, "pk", None) else None,
                request_key=request_key,
                channel=Channel.EMAIL,
                as_of=as_of,
                send_at=send_at,
                language=template.language,
                recipients=addresses,
                subject=rendered.subject[:255],
                body_text=rendered.text,
                body_html=rendered.html,
                message_id=new_message_id("dunning"),
            )
    except IntegrityError:  # the same key, written at the same moment by a second submit
        return _repeat(OutboundMessage.objects.get(request_key=request_key), customer), False
    message.invoices.set([invoice.pk for invoice in invoices])
    record_event(
        actor=actor,
        verb="email.queued",
        target=message,
        data={"template": template.pk, "recipients": len(addresses), "invoices": len(invoices)},
    )
    if send_at <= now:
        transaction.on_commit(functools.partial(tasks.send_soon, [message.pk]))
    return message, True


def _repeat(message: OutboundMessage, customer: Customer) -> OutboundMessage:
    if message.customer_id != customer.pk or message.level_id is not None:
        raise DomainError("This request key was used for another message.", field="request_key")
    return message
