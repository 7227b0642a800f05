"""Delivering the outbox: claim due rows, send each exactly once, retry what failed for a while.

A row is claimed with one conditional UPDATE (pending and due, or `sending` under a claim older than the
lease), which stamps a claim token; only the holder of the token may mark the row sent. So two senders never
both send a row, and a sender killed mid-way leaves its rows to be reclaimed once the lease runs out. The one
message that can go out twice is the one whose SMTP transaction had completed when its sender died, before it
could record that (docs/dunning.md measures that window).

Before anything goes out, the items are checked again against the ledger as it is now: an invoice paid,
credited, disputed, put on hold or promised since the run is dropped, and a message left with no invoice
that moved is cancelled. None is ever sent on money that is paid.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import smtplib
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from recoup.activity.models import EntryKind, TaskTrigger
from recoup.activity.services import timeline_add
from recoup.activity.task_services import rule_task, total_in_base
from recoup.core import mail
from recoup.core.mail import Permanent, Transient
from recoup.dunning import defaults, rules
from recoup.dunning.models import Channel, DunningLevel, InvoiceDunning, MessageStatus, OutboundMessage
from recoup.dunning.planning import disputed_amounts, holds, promises
from recoup.dunning.rendering import Letter, Line, render_email, render_statement_pdf, render_subject
from recoup.ledger.models import Contact, Customer, Invoice
from recoup.ledger.selectors import customer_unapplied_as_of

log = logging.getLogger(__name__)


class Nothing(Exception):
    """Nothing is left to remind about: every invoice that moved was paid, credited, disputed or paused."""


@dataclass
class Delivered:
    counts: Counter[str]

    def __str__(self) -> str:
        return ", ".join(f"{n} {what}" for what, n in sorted(self.counts.items())) or "nothing due"


def sendable(now: dt.datetime) -> Q:
    stale = now - dt.timedelta(seconds=settings.RECOUP_OUTBOX_LEASE_SECONDS)
    due = Q(status=MessageStatus.PENDING, send_at__lte=now) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    return due | Q(status=MessageStatus.SENDING, claimed_at__lt=stale)


def due_ids(*, now: dt.datetime | None = None, limit: int | None = None) -> list[int]:
    """Ids of the rows due now, oldest first."""
    rows = OutboundMessage.objects.filter(sendable(now or timezone.now())).order_by("send_at", "id")
    ids = rows.values_list("id", flat=True)
    return list(ids[:limit] if limit else ids)


def dispatch_ids(*, now: dt.datetime | None = None) -> list[int]:
    """The due rows not handed to a worker queue within the lease, stamped as handed now: a queue that is
    still working through a backlog is not sent the same rows again every minute."""
    now = now or timezone.now()
    recent = now - dt.timedelta(seconds=settings.RECOUP_OUTBOX_LEASE_SECONDS)
    fresh = Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=recent)
    with transaction.atomic():
        ids = list(
            OutboundMessage.objects.select_for_update(skip_locked=True)
            .filter(sendable(now), fresh)
            .order_by("send_at", "id")
            .values_list("pk", flat=True)
        )
        for start in range(0, len(ids), 1000):
            OutboundMessage.objects.filter(pk__in=ids[start : start + 1000]).update(dispatched_at=now)
    return ids


def claim(pk: int, *, now: dt.datetime | None = None) -> str | None:
    """Claim one row if it is still sendable; returns the claim's token, or None.

    One conditional UPDATE: the row lock it takes makes it exact. A second sender's UPDATE waits for the
    first, then finds the row no longer sendable (PostgreSQL evaluates the condition again on the row the
    first one wrote; SQLite runs one writer at a time).
    """
    now = now or timezone.now()
    token = uuid.uuid4().hex
    claimed = OutboundMessage.objects.filter(sendable(now), pk=pk).update(
        status=MessageStatus.SENDING, claim_token=token, claimed_at=now, attempts=F("attempts") + 1
    )
    return token if claimed else None


def deliver_due(*, now: dt.datetime | None = None, batch: int = 50) -> Delivered:
    """Send everything due now, batch after batch, until nothing due is left (the embedded mode's sender,
    and `recoup dunning send`)."""
    counts: Counter[str] = Counter()
    while ids := due_ids(now=now, limit=batch):
        result = deliver(ids, now=now)
        counts.update(result.counts)
        if not result.counts:
            break  # another sender holds them all
    return Delivered(counts)


def deliver(ids: Sequence[int], *, now: dt.datetime | None = None) -> Delivered:
    """Send the given rows (the Celery task's body: safe to run twice, or at once elsewhere).

    Each row is claimed just before it is sent, so at any moment a sender holds one claim: the rows marked
    `sending` are exactly those in flight.
    """
    counts: Counter[str] = Counter()
    connection = None
    customers = OutboundMessage.objects.filter(pk__in=list(ids)).values_list("customer_id", flat=True)
    standing = Standing.read(customer_ids=sorted(set(customers)), today=timezone.localdate())
    try:
        for pk in sorted(ids):
            token = claim(pk, now=now)
            if token is None:
                continue
            message = OutboundMessage.objects.select_related("customer", "level__policy", "author").get(pk=pk)
            if message.channel == Channel.EMAIL and connection is None:
                connection = get_connection(timeout=settings.EMAIL_TIMEOUT)
                _open(connection)
            outcome = _deliver_one(message, token=token, connection=connection, standing=standing)
            counts[outcome] += 1
            if outcome == "retry" and connection is not None:
                connection.close()  # it may be broken: the next email opens a fresh one
                connection = None
    finally:
        if connection is not None:
            connection.close()
    return Delivered(counts)


def _open(connection: Any) -> None:
    # A failure here is reported by the first send, and that message is retried.
    with contextlib.suppress(OSError, smtplib.SMTPException):
        connection.open()


@dataclass(frozen=True)
class Standing:
    """What keeps money out of a batch's messages, as the ledger stands when the batch starts: holds,
    promises and disputes of its customers, read once for the batch rather than once for each message."""

    held_customers: set[int]
    held_invoices: set[int]
    promised_customers: set[int]
    promised_invoices: set[int]
    disputed: dict[int, Decimal]

    @classmethod
    def read(cls, *, customer_ids: Sequence[int], today: dt.date) -> Standing:
        held = holds(today, customer_ids)
        promised = promises(today, customer_ids)
        return cls(*held, *promised, disputed_amounts(today, customer_ids))


def _deliver_one(message: OutboundMessage, *, token: str, connection: Any, standing: Standing) -> str:
    sent = False
    try:
        if message.level_id is None:  # a manual email: rendered when it was queued (recoup.dunning.manual)
            email = _manual_email(message, connection)
            mail.send(email)
            sent = True
            _mark_sent(
                message,
                token,
                letter=None,
                entry=(EntryKind.EMAIL_OUT, f"Email: {message.subject}", message.body_text),
            )
            return "sent"
        statement = message.channel == Channel.LETTER or (
            message.channel == Channel.EMAIL and settings.RECOUP_DUNNING_ATTACH_STATEMENT
        )
        letter = _letter(message, standing, with_statement=statement)
        if message.channel == Channel.EMAIL:
            email = _email(message, letter, connection)
            mail.send(email)
            sent = True
            _mark_sent(
                message,
                token,
                recipients=email.to,
                subject=email.subject,
                body_text=str(email.body),
                body_html=str(email.alternatives[0][0]),
                entry=(EntryKind.EMAIL_OUT, f"Email: {email.subject}", str(email.body)),
                letter=letter,
            )
        elif message.channel == Channel.LETTER:
            pdf = render_statement_pdf(letter, with_letter=True)
            name = f"{_safe(message.customer.external_id)}-{message.as_of.isoformat()}-{message.level_id}.pdf"
            message.document.save(name, ContentFile(pdf), save=False)
            _mark_sent(
                message,
                token,
                subject=render_subject(letter),
                document=message.document.name,
                entry=(EntryKind.LETTER, f"Letter to print: {letter.level_name}", ""),
                letter=letter,
            )
        else:
            _mark_sent(
                message, token, subject=f"Call {letter.customer_name}: {letter.level_name}", letter=letter
            )
        return "sent"
    except Nothing as reason:
        _finish(message, token, status=MessageStatus.CANCELLED, error=str(reason))
        return "cancelled"
    except Transient as exc:
        if message.attempts >= settings.RECOUP_SMTP_MAX_ATTEMPTS:
            _finish(
                message,
                token,
                status=MessageStatus.FAILED,
                error=f"gave up after {message.attempts} attempts: {exc}",
            )
            return "failed"
        delay = mail.retry_delay(
            message.attempts, base_seconds=settings.RECOUP_SMTP_RETRY_SECONDS, cap_seconds=6 * 3600
        )
        _finish(
            message,
            token,
            status=MessageStatus.PENDING,
            error=f"attempt {message.attempts}: {exc}",
            next_attempt_at=timezone.now() + dt.timedelta(seconds=delay),
        )
        return "retry"
    except Permanent as exc:
        _finish(message, token, status=MessageStatus.FAILED, error=str(exc))
        return "failed"
    except Exception as exc:  # a bug must not lose the message: it fails visibly, and can be retried by hand
        if sent:
            # The server has it: marking it failed would invite a second copy by hand. The claim stays, and
            # lapses after the lease like a dead sender's (the window docs/dunning.md describes).
            log.exception("dunning message %s was sent but could not be recorded", message.pk)
            raise
        log.exception("dunning message %s failed", message.pk)
        _finish(message, token, status=MessageStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
        return "failed"


# What goes out ----------------------------------------------------------------------------------------------


def _letter(
    message: OutboundMessage, standing: Standing | None = None, *, with_statement: bool = True
) -> Letter:
    """The message's content as the ledger stands now: items no longer dunnable are dropped. The statement
    (every open item, and the credits) is read only for a PDF."""
    customer: Customer = message.customer
    if customer.do_not_dun:
        raise Nothing("the customer was put on the do-not-dun list after the run")
    standing = standing or Standing.read(customer_ids=[customer.pk], today=timezone.localdate())
    if customer.pk in standing.held_customers:
        raise Nothing("dunning of the customer was put on hold after the run")
    if customer.pk in standing.promised_customers:
        raise Nothing("the customer promised to pay after the run")
    items = list(message.items.select_related("invoice", "level").order_by("invoice__due_date", "invoice_id"))
    disputed = standing.disputed
    lines, dropped = [], []
    for item in items:
        invoice: Invoice = item.invoice
        line = _line(
            invoice,
            days_past_due=item.days_past_due,
            disputed=disputed,
            level=item.level.name,
            is_new=item.is_new,
        )
        if (
            line.dunnable <= 0
            or invoice.pk in standing.held_invoices
            or invoice.pk in standing.promised_invoices
        ):
            dropped.append(invoice.external_id)
        else:
            lines.append(line)
    if not any(line.is_new for line in lines):
        raise Nothing(f"nothing left to remind about ({', '.join(dropped)} no longer due)")
    level = message.level
    assert level is not None, "a manual email is rendered when it is queued"
    subject, body = _template(level, message.language)
    return _letter_for(
        customer,
        as_of=message.as_of,
        level_name=level.name,
        language=message.language,
        lines=lines,
        subject=subject,
        body=body,
        disputed=disputed if with_statement else None,
    )


def preview(*, level: DunningLevel, customer: Customer, as_of: dt.date, language: str = "") -> Letter:
    """What `level` would send `customer` as of `as_of`: the customer's invoices still dunnable now for which
    the level is due (all of them when there is none, so that a preview always shows something), each at the
    level it has reached. For the policy pages; nothing is written."""
    language = language or customer.language or level.policy.default_language
    disputed = disputed_amounts(as_of, [customer.pk])
    dunnable = [
        line
        for line in _open_lines(customer, as_of=as_of, disputed=disputed)
        if line.dunnable > 0 and line.issue_date <= as_of
    ]
    lines = [line for line in dunnable if line.days_past_due >= level.offset_days] or dunnable
    subject, body = _template(level, language)
    return _letter_for(
        customer,
        as_of=as_of,
        level_name=level.name,
        language=language,
        lines=lines,
        subject=subject,
        body=body,
        disputed=disputed,
    )


def _open_lines(customer: Customer, *, as_of: dt.date, disputed: dict[int, Decimal]) -> list[Line]:
    """Every open invoice of the customer as it stands now, at the level it has reached: the statement."""
    invoices = Invoice.objects.filter(customer=customer, open_amount__gt=0).order_by("due_date", "id")
    levels = dict(
        InvoiceDunning.objects.filter(invoice__in=invoices).values_list("invoice_id", "level__name")
    )
    return [
        _line(
            invoice,
            days_past_due=(as_of - invoice.due_date).days,
            disputed=disputed,
            level=levels.get(invoice.pk, ""),
        )
        for invoice in invoices
    ]


def _line(
    invoice: Invoice, *, days_past_due: int, disputed: dict[int, Decimal], level: str, is_new: bool = False
) -> Line:
    """An invoice as a message or statement shows it: its open amount now, and the part of it disputed."""
    return Line(
        number=invoice.external_id,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        days_past_due=days_past_due,
        currency=invoice.currency,
        amount=invoice.amount,
        open=invoice.open_amount,
        disputed=min(disputed.get(invoice.pk, Decimal(0)), invoice.open_amount),
        level=level,
        is_new=is_new,
        invoice_id=invoice.pk,
    )


def _letter_for(
    customer: Customer,
    *,
    as_of: dt.date,
    level_name: str,
    language: str,
    lines: list[Line],
    subject: str,
    body: str,
    disputed: dict[int, Decimal] | None,
) -> Letter:
    """`disputed` None: no statement."""
    contact = Contact.objects.filter(customer=customer, is_ap=True).exclude(name="").order_by("id").first()
    letter = Letter(
        as_of=as_of,
        customer_name=customer.name,
        customer_ref=customer.external_id,
        contact_name=contact.name if contact else "",
        level_name=level_name,
        language=language,
        lines=lines,
        subject_template=subject,
        body_template=body,
    )
    if disputed is not None:
        letter.credits = customer_unapplied_as_of(customer=customer, as_of=max(as_of, timezone.localdate()))
        letter.statement = _open_lines(customer, as_of=as_of, disputed=disputed)
    return letter


def _template(level: DunningLevel, language: str) -> tuple[str, str]:
    """The level's template in the customer's language, else the policy's, else English, else any; a level
    with none uses the built-in one of its kind."""
    templates = {t.language: t for t in level.templates.all()}
    for choice in (language, language.split("-")[0], level.policy.default_language, "en"):
        if choice in templates:
            return templates[choice].subject, templates[choice].body
    if templates:
        first = templates[sorted(templates)[0]]
        return first.subject, first.body
    final = rules.final_position(level.policy.levels.order_by("position").values_list("position", "channels"))
    kind = defaults.template_kind(level.position, level.offset_days, final)
    builtin = defaults.TEMPLATES[kind].get(language) or defaults.TEMPLATES[kind]["en"]
    return builtin["subject"], builtin["body"]


def _email(message: OutboundMessage, letter: Letter, connection: Any) -> EmailMultiAlternatives:
    recipients = list(
        Contact.objects.filter(customer_id=message.customer_id, is_ap=True)
        .exclude(email="")
        .order_by("id")
        .values_list("email", flat=True)
    )
    if not recipients:
        raise Permanent("the customer has no AP contact with an email address; add one and retry")
    rendered = render_email(letter)
    headers = {"Message-ID": message.message_id, "X-Recoup-Key": message.key}
    previous = (
        OutboundMessage.objects.filter(
            customer_id=message.customer_id,
            channel=Channel.EMAIL,
            status=MessageStatus.SENT,
            level__isnull=False,  # reminders thread with reminders; a manual email starts its own thread
        )
        .exclude(pk=message.pk)
        .order_by("-sent_at")
        .values_list("message_id", flat=True)
        .first()
    )
    if previous:  # the customer's reminders thread together in their mail client
        headers.update({"In-Reply-To": previous, "References": previous})
    email = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        reply_to=[settings.RECOUP_REPLY_TO] if settings.RECOUP_REPLY_TO else None,
        headers=headers,
        connection=connection,
    )
    email.attach_alternative(rendered.html, "text/html")
    if settings.RECOUP_DUNNING_ATTACH_STATEMENT:
        filename = f"statement-{_safe(message.customer.external_id)}-{message.as_of.isoformat()}.pdf"
        email.attach(filename, render_statement_pdf(letter), "application/pdf")
    return email


def _manual_email(message: OutboundMessage, connection: Any) -> EmailMultiAlternatives:
    """A manual email as it was rendered and addressed when it was queued."""
    recipients = [str(address) for address in message.recipients or [] if address]
    if not recipients:
        raise Permanent("the email has no recipient; queue it again with a contact that has an address")
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        reply_to=[settings.RECOUP_REPLY_TO] if settings.RECOUP_REPLY_TO else None,
        headers={"Message-ID": message.message_id, "X-Recoup-Key": message.key},
        connection=connection,
    )
    if message.body_html:
        email.attach_alternative(message.body_html, "text/html")
    return email


# Recording the outcome --------------------------------------------------------------------------------------


def _mark_sent(
    message: OutboundMessage,
    token: str,
    *,
    letter: Letter | None,
    entry: tuple[str, str, str] | None = None,
    **fields: Any,
) -> None:
    """Record the send, and what went out, in one transaction; only the claim's holder may. A manual email
    (`letter` None) concerns the invoices its sender chose."""
    now = timezone.now()
    if letter is None:
        invoice_ids = sorted(message.invoices.values_list("pk", flat=True))
    else:
        invoice_ids = [line.invoice_id for line in letter.lines if line.invoice_id is not None]
    with transaction.atomic():
        updated = OutboundMessage.objects.filter(
            pk=message.pk, claim_token=token, status=MessageStatus.SENDING
        ).update(status=MessageStatus.SENT, sent_at=now, last_error="", **fields)
        if not updated:
            log.warning(
                "dunning message %s was re-claimed by another sender before it was marked sent", message.pk
            )
            return
        if message.channel == Channel.CALL and letter is not None:
            today = timezone.localdate()
            rule_task(
                trigger=TaskTrigger.DUNNING_CALL,
                customer=message.customer,
                subject=message.pk,
                title=f"Call {letter.customer_name}: {letter.level_name}",
                description=_call_brief(letter),
                invoices=invoice_ids,
                amount=total_in_base(letter.totals("dunnable"), today),
                today=today,
            )
        elif entry is not None:
            kind, title, body = entry
            timeline_add(
                customer=message.customer_id,
                kind=kind,
                title=title,
                body=body,
                status=MessageStatus.SENT,
                occurred_at=now,
                source=message,
                invoices=invoice_ids,
                actor=message.author,
            )


def _call_brief(letter: Letter) -> str:
    context = letter.template_context()
    lines = [
        f"{i['number']}: {i['due']} due, {i['days_past_due']} days past due ({i['level']})"
        for i in context["invoices"]
    ]
    return f"Total due {context['total_due']}.\n" + "\n".join(lines)


def _finish(
    message: OutboundMessage,
    token: str,
    *,
    status: str,
    error: str,
    next_attempt_at: dt.datetime | None = None,
) -> None:
    OutboundMessage.objects.filter(pk=message.pk, claim_token=token, status=MessageStatus.SENDING).update(
        status=status, last_error=error[:2000], next_attempt_at=next_attempt_at
    )


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text)[:60] or "customer"
