"""Writes to the activity of a customer: tasks, timeline entries and promises."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, models, transaction
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from recoup.activity.models import (
    Call,
    CallOutcome,
    EntryKind,
    InboundEmail,
    InboundStatus,
    MatchedBy,
    Note,
    Promise,
    PromiseChannel,
    PromiseStatus,
    Task,
    TaskRule,
    TaskStatus,
    TimelineEntry,
)
from recoup.activity.permissions import check_task_actor
from recoup.core.errors import DomainError, NotAllowed
from recoup.core.events import record_event
from recoup.core.models import Event
from recoup.core.money import MoneyError, normalize_currency, parse_amount
from recoup.core.notifications import notify
from recoup.ledger.models import Contact, Customer, Invoice
from recoup.users.models import Role

MAX_GRACE_DAYS = 365  # a promise's grace period, at most


@transaction.atomic
def task_create(
    *,
    actor: Any,
    customer: Customer,
    kind: str,
    title: str,
    due_date: dt.date,
    owner: Any = None,
    role: str = "",
    description: str = "",
    invoices: Iterable[Invoice | int] = (),
    source_key: str = "",
    rule: TaskRule | None = None,
) -> tuple[Task, bool]:
    """Create a task, or return the open one with the same `source_key`; the flag says whether it is new.

    The partial unique constraint decides, not a look-up first: two workers creating the same task at once
    end with one task.
    """
    if source_key:
        existing = Task.objects.filter(source_key=source_key, status=TaskStatus.OPEN).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            task = Task.objects.create(
                customer=customer,
                kind=kind,
                title=title[:255],
                description=description,
                due_date=due_date,
                owner=owner,
                role=role,
                source_key=source_key,
                rule=rule,
                created_by=actor if getattr(actor, "pk", None) else None,
            )
    except IntegrityError:
        if not source_key:
            raise
        return Task.objects.get(source_key=source_key, status=TaskStatus.OPEN), False
    invoice_ids = [i if isinstance(i, int) else i.pk for i in invoices]
    if invoice_ids:
        task.invoices.set(invoice_ids)
    owner_name = owner.username if owner is not None else f"role {role or 'any'}"
    timeline_add(
        customer=customer,
        kind=EntryKind.CALL_TASK if kind == "call" else EntryKind.TASK,
        title=f"Task: {task.title}",
        body=f"Assigned to {owner_name}, due {due_date.isoformat()}.",
        status=task.status,
        source=task,
        invoices=invoice_ids,
        actor=actor,
    )
    record_event(actor=actor, verb="task.created", target=task, data={"source_key": source_key})
    return task, True


@transaction.atomic
def task_complete(*, actor: Any, task: Task) -> Task:
    task = Task.objects.select_for_update().get(pk=task.pk)
    check_task_actor(actor, task)
    if task.status != TaskStatus.OPEN:
        raise DomainError(f"The task is already {task.get_status_display().lower()}.", field="status")
    task.status = TaskStatus.DONE
    task.completed_at = timezone.now()
    task.save(update_fields=["status", "completed_at", "updated_at"])
    timeline_add(
        customer=task.customer_id,
        kind=EntryKind.TASK,
        title=f"Task done: {task.title}",
        status=task.status,
        source=task,
        invoices=list(task.invoices.values_list("pk", flat=True)),
        actor=actor,
    )
    record_event(actor=actor, verb="task.completed", target=task)
    return task


def timeline_add(
    *,
    customer: Customer | int,
    kind: str,
    title: str,
    body: str = "",
    status: str = "",
    occurred_at: dt.datetime | None = None,
    source: models.Model | None = None,
    invoices: Sequence[int] = (),
    actor: Any = None,
) -> TimelineEntry:
    """Append one entry to a customer's timeline (in the caller's transaction)."""
    entry = TimelineEntry.objects.create(
        customer_id=customer if isinstance(customer, int) else customer.pk,
        kind=kind,
        occurred_at=occurred_at or timezone.now(),
        title=title[:255],
        body=body,
        status=status,
        source_type=source._meta.label_lower if source is not None else "",
        source_id=str(source.pk) if source is not None else "",
        actor=actor if getattr(actor, "pk", None) else None,
    )
    if invoices:
        entry.invoices.add(*invoices)  # a new entry: nothing to compare with, as set() would
    return entry


@transaction.atomic
def promise_create(
    *,
    actor: Any,
    customer: Customer,
    amount: Decimal | str,
    promised_date: dt.date,
    currency: str | None = None,
    invoices: Sequence[Invoice] = (),
    grace_days: int = 3,
    channel: str = "call",
    made_on: dt.date | None = None,
    tolerance_percent: Decimal | int | None = None,
) -> Promise:
    """Record a promise to pay. While pending, it pauses dunning on what it covers (DESIGN.md).

    `made_on` defaults to today; `tolerance_percent` to RECOUP_PROMISE_TOLERANCE_PERCENT. The promise is
    followed up by its maker when a person records it, else by the customer's collector.
    """
    try:
        code = normalize_currency(currency or customer.currency)
        value = parse_amount(amount, code)
    except MoneyError as exc:
        raise DomainError(str(exc), field="amount") from exc
    if value <= 0:
        raise DomainError("A promise must be for more than zero.", field="amount")
    if any(invoice.customer_id != customer.pk for invoice in invoices):
        raise DomainError("Every invoice of a promise must belong to its customer.", field="invoices")
    if not 0 <= grace_days <= MAX_GRACE_DAYS:
        raise DomainError(f"The grace period is 0 to {MAX_GRACE_DAYS} days.", field="grace_days")
    if tolerance_percent is None:
        tolerance_percent = settings.RECOUP_PROMISE_TOLERANCE_PERCENT
    if not 0 <= Decimal(tolerance_percent) <= 100:
        raise DomainError("The tolerance is a percentage from 0 to 100.", field="tolerance_percent")
    maker = actor if getattr(actor, "pk", None) else None
    promise = Promise.objects.create(
        customer=customer,
        amount=value,
        currency=code,
        promised_date=promised_date,
        grace_days=grace_days,
        channel=channel,
        made_on=made_on or timezone.localdate(),
        tolerance_percent=Decimal(tolerance_percent),
        owner=maker or customer.collector,
        created_by=maker,
    )
    promise.invoices.set(invoices)
    timeline_add(
        customer=customer,
        kind=EntryKind.PROMISE,
        title=f"Promise to pay {value} {code} by {promised_date.isoformat()}",
        status=PromiseStatus.PENDING,
        source=promise,
        invoices=[i.pk for i in invoices],
        actor=actor,
    )
    record_event(
        actor=actor,
        verb="promise.created",
        target=promise,
        data={"amount": str(value), "currency": code, "date": promised_date.isoformat()},
    )
    return promise


# Inbound email (the poller is recoup.activity.inbound) ------------------------------------------------------

INBOUND_ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.COLLECTOR})
INBOUND_REFUSED = "Only collectors, managers and admins assign or ignore inbound email."
# The timeline status of an automatic reply (out of office, bounce): never the customer answering.
AUTO_REPLY = "auto_reply"
RECEIVED = "received"
INBOUND_BODY_CHARS = 10_000


def may_handle_inbound(user: Any) -> bool:
    """Whether `user` may assign or ignore inbound email (the system, None, may)."""
    if user is None:
        return True
    return bool(getattr(user, "is_authenticated", False) and user.is_active and user.role in INBOUND_ROLES)


def inbound_left_out(email: InboundEmail) -> list[str]:
    """The attachments the poller did not keep (too large, too many), as it recorded them."""
    event = Event.objects.filter(
        verb="inbound.received", target_type=InboundEmail._meta.label_lower, target_id=str(email.pk)
    ).first()
    return list(event.data.get("left_out", [])) if event is not None else []


def inbound_timeline_add(*, email: InboundEmail, actor: Any, left_out: Sequence[str] = ()) -> TimelineEntry:
    """The EMAIL_IN entry of an email on its customer's timeline, linked to its invoices, dated when it was
    sent (never later than now: the Date header is the sender's). An automatic reply has the status
    AUTO_REPLY, every other email RECEIVED."""
    assert email.customer_id is not None
    sender = email.from_name or email.from_address or "an unknown sender"
    what = "Automatic reply" if email.is_auto_reply else "Email"
    body = email.body_text[:INBOUND_BODY_CHARS]
    if left_out:
        body += "\n\n[Attachments not kept: " + "; ".join(left_out) + "]"
    now = timezone.now()
    return timeline_add(
        customer=email.customer_id,
        kind=EntryKind.EMAIL_IN,
        title=f"{what} from {sender}: {email.subject or '(no subject)'}",
        body=body,
        status=AUTO_REPLY if email.is_auto_reply else RECEIVED,
        occurred_at=min(email.sent_at, now) if email.sent_at else now,
        source=email,
        invoices=list(email.invoices.values_list("pk", flat=True)),
        actor=actor,
    )


def _inbound_entries(email: InboundEmail) -> models.QuerySet[TimelineEntry]:
    return TimelineEntry.objects.filter(source_type=InboundEmail._meta.label_lower, source_id=str(email.pk))


@transaction.atomic
def inbound_assign(
    *, actor: Any, email: InboundEmail, customer: Customer, invoices: Iterable[Invoice | int] = ()
) -> InboundEmail:
    """File an email under `customer` by hand, with the invoices it concerns (all the customer's). An email
    already on a timeline moves to the new one."""
    if not may_handle_inbound(actor):
        raise NotAllowed(INBOUND_REFUSED)
    email = InboundEmail.objects.select_for_update().get(pk=email.pk)
    invoice_ids = sorted({i if isinstance(i, int) else i.pk for i in invoices})
    rows = Invoice.objects.filter(pk__in=invoice_ids).values_list("pk", "customer_id", "external_id")
    found = {pk: (owner, number) for pk, owner, number in rows}
    if len(found) != len(invoice_ids):
        raise DomainError("One of the invoices does not exist.", field="invoices")
    strangers = sorted(number for owner, number in found.values() if owner != customer.pk)
    if strangers:
        raise DomainError(
            f"{', '.join(strangers)} {'is' if len(strangers) == 1 else 'are'} not {customer.name}'s.",
            field="invoices",
        )
    before = {"from_status": email.status, "from_customer": email.customer_id}
    _inbound_entries(email).delete()
    email.customer = customer
    email.status = InboundStatus.ASSIGNED
    email.matched_by = MatchedBy.MANUAL
    email.assigned_by = actor if getattr(actor, "pk", None) else None
    email.assigned_at = timezone.now()
    email.save(update_fields=["customer", "status", "matched_by", "assigned_by", "assigned_at"])
    email.invoices.set(invoice_ids)
    inbound_timeline_add(email=email, actor=actor, left_out=inbound_left_out(email))
    record_event(
        actor=actor,
        verb="inbound.assigned",
        target=email,
        data={**before, "customer": customer.pk, "invoices": invoice_ids},
    )
    return email


@transaction.atomic
def inbound_ignore(*, actor: Any, email: InboundEmail) -> InboundEmail:
    """Take an email out of the queue (and off any timeline): spam, a newsletter, nothing to do with AR."""
    if not may_handle_inbound(actor):
        raise NotAllowed(INBOUND_REFUSED)
    email = InboundEmail.objects.select_for_update().get(pk=email.pk)
    if email.status == InboundStatus.IGNORED:
        raise DomainError("This email is ignored already.", field="status")
    before = {"from_status": email.status, "from_customer": email.customer_id}
    _inbound_entries(email).delete()
    email.customer = None
    email.status = InboundStatus.IGNORED
    email.matched_by = ""
    email.assigned_by = actor if getattr(actor, "pk", None) else None
    email.assigned_at = timezone.now()
    email.save(update_fields=["customer", "status", "matched_by", "assigned_by", "assigned_at"])
    email.invoices.clear()
    record_event(actor=actor, verb="inbound.ignored", target=email, data=before)
    return email


# Calls and notes --------------------------------------------------------------------------------------------

MAX_TEXT = 10_000
MAX_CALL_SECONDS = 24 * 3600
MAX_MENTIONS = 20
# "@mia", "@j.doe", "@ap-team": a word that starts after a space or punctuation, never inside an address.
MENTION = re.compile(r"(?<![\w@.+-])@([\w][\w.@+-]{0,149})")


@dataclass(frozen=True)
class PromiseSpec:
    """A promise to pay made on a call, recorded with it (call_log) through promise_create."""

    amount: Decimal | str
    promised_date: dt.date
    invoices: Sequence[Invoice] = ()
    currency: str | None = None
    channel: str = PromiseChannel.CALL


def _belongs(customer: Customer, invoices: Sequence[Invoice]) -> list[int]:
    if any(invoice.customer_id != customer.pk for invoice in invoices):
        raise DomainError("Every invoice must belong to the customer.", field="invoices")
    return sorted({invoice.pk for invoice in invoices})


def _text(value: str, *, field: str, required: bool = False, what: str = "the text") -> str:
    text = (value or "").strip()
    if required and not text:
        raise DomainError(f"Write {what}.", field=field)
    if len(text) > MAX_TEXT:
        raise DomainError(f"Keep {what} to {MAX_TEXT:,} characters.", field=field)
    return text


def _duration(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


@transaction.atomic
def call_log(
    *,
    actor: Any,
    customer: Customer,
    outcome: str,
    duration_seconds: int = 0,
    notes: str = "",
    contact: Contact | None = None,
    invoices: Sequence[Invoice] = (),
    task: Task | None = None,
    promise: Promise | PromiseSpec | None = None,
    called_at: dt.datetime | None = None,
) -> Call:
    """Record a call: the Call, its timeline entry (outcome, duration, notes; the invoices it concerned) and
    an event. A promise made on it (a PromiseSpec) is recorded with it, through promise_create, and needs a
    call that reached someone; the task it was made for, if any, is completed."""
    if outcome not in CallOutcome.values:
        raise DomainError(f"The outcome is one of {', '.join(CallOutcome.values)}.", field="outcome")
    if isinstance(duration_seconds, bool) or not isinstance(duration_seconds, int):
        raise DomainError("Give the duration in whole seconds.", field="duration_seconds")
    if not 0 <= duration_seconds <= MAX_CALL_SECONDS:
        raise DomainError("A call lasts from 0 seconds to 24 hours.", field="duration_seconds")
    notes = _text(notes, field="notes", what="the notes")
    if contact is not None and contact.customer_id != customer.pk:
        raise DomainError("The contact belongs to another customer.", field="contact")
    invoice_ids = _belongs(customer, invoices)
    now = timezone.now()
    if called_at is not None and (timezone.is_naive(called_at) or called_at > now):
        raise DomainError(
            "A call is logged when it happened: an aware time, not in the future.", field="called_at"
        )
    if task is not None:
        task = Task.objects.select_for_update().get(pk=task.pk)
        check_task_actor(actor, task)
        if task.customer_id != customer.pk:
            raise DomainError("The task belongs to another customer.", field="task")
        if task.status != TaskStatus.OPEN:
            raise DomainError(f"The task is already {task.get_status_display().lower()}.", field="task")
    if promise is not None and outcome != CallOutcome.REACHED:
        raise DomainError("A promise to pay needs a call that reached someone.", field="promise")
    if isinstance(promise, Promise) and (promise.customer_id != customer.pk or hasattr(promise, "call")):
        raise DomainError("The promise belongs to another customer or call.", field="promise")
    call = Call.objects.create(
        customer=customer,
        contact=contact,
        outcome=outcome,
        duration_seconds=duration_seconds,
        notes=notes,
        called_at=called_at or now,
        task=task,
        actor=actor if getattr(actor, "pk", None) else None,
    )
    if invoice_ids:
        call.invoices.set(invoice_ids)
    who = f" with {contact}" if contact is not None else ""
    length = f", {_duration(duration_seconds)}" if duration_seconds else ""
    timeline_add(
        customer=customer,
        kind=EntryKind.CALL,
        title=f"Call{who}: {call.get_outcome_display().lower()}{length}",
        body=notes,
        status=outcome,
        occurred_at=call.called_at,
        source=call,
        invoices=invoice_ids,
        actor=actor,
    )
    if isinstance(promise, PromiseSpec):
        promise = promise_create(
            actor=actor,
            customer=customer,
            amount=promise.amount,
            promised_date=promise.promised_date,
            currency=promise.currency,
            invoices=list(promise.invoices),
            channel=promise.channel,
            made_on=timezone.localdate(call.called_at),  # a call logged afterwards: the day it was made
        )
    if promise is not None:
        call.promise = promise
        call.save(update_fields=["promise"])
    if task is not None:
        task_complete(actor=actor, task=task)
    record_event(
        actor=actor,
        verb="call.logged",
        target=call,
        data={
            "outcome": outcome,
            "duration_seconds": duration_seconds,
            "promise": promise.pk if promise is not None else None,
            "task": task.pk if task is not None else None,
        },
    )
    return call


def mentioned_users(body: str) -> list[Any]:
    """The active users a text mentions as @username (case-insensitive), in the order first mentioned; an
    @name that is nobody's, or an address like ap@acme.example, mentions no one."""
    names: list[str] = []
    for match in MENTION.finditer(body):
        token = match.group(1).lower()
        for name in (token, token.rstrip(".-+@")):  # "@mia." at the end of a sentence is @mia
            if name and name not in names:
                names.append(name)
    if not names:
        return []
    users = {
        user.username.lower(): user
        for user in get_user_model()
        .objects.annotate(name=Lower("username"))
        .filter(name__in=names[: MAX_MENTIONS * 2], is_active=True)
    }
    found: list[Any] = []
    for name in names:
        user = users.get(name)
        if user is not None and user not in found:
            found.append(user)
    return found[:MAX_MENTIONS]


@transaction.atomic
def note_add(*, actor: Any, customer: Customer, body: str, invoices: Sequence[Invoice] = ()) -> Note:
    """Add a note to the customer's timeline. Each user it mentions (@username) is recorded, and told by
    email once (the notification's key is the note and the user); the author is not told of their own
    mention."""
    body = _text(body, field="body", required=True, what="the note")
    invoice_ids = _belongs(customer, invoices)
    author = actor if getattr(actor, "pk", None) else None
    note = Note.objects.create(customer=customer, body=body, author=author)
    if invoice_ids:
        note.invoices.set(invoice_ids)
    mentioned = mentioned_users(body)
    if mentioned:
        note.mentions.set(mentioned)
    writer = (author.get_full_name() or author.username) if author is not None else "Recoup"
    timeline_add(
        customer=customer,
        kind=EntryKind.NOTE,
        title=f"Note by {writer}",
        body=body,
        occurred_at=note.created_at,
        source=note,
        invoices=invoice_ids,
        actor=actor,
    )
    link = f"{settings.RECOUP_BASE_URL.rstrip('/')}{reverse('customer-detail', args=[customer.pk])}"
    for user in mentioned:
        if author is not None and user.pk == author.pk:
            continue
        notify(
            key=f"note-mention:{note.pk}:{user.pk}",
            recipient=user,
            subject=f"{writer} mentioned you on {customer.name}",
            body=f"{writer} wrote on {customer.name} ({customer.external_id}):\n\n{body}\n\n{link}\n",
        )
    record_event(
        actor=actor,
        verb="note.added",
        target=note,
        data={"mentions": [user.pk for user in mentioned], "invoices": invoice_ids},
    )
    return note
