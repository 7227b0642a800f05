"""Writes to disputes: open, assign, review, comment, attach, resolve, and the SLA check.

Each one is atomic, checks what the actor's role allows on that dispute (rules.ALLOWED; `actor=None` is the
system), appends to the dispute's history and the customer's timeline, and records an audit event. Outcomes
act through the ledger services: a credit note is issued and allocated, a write-off is an allocation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.text import get_valid_filename

from recoup.activity.models import EntryKind, TaskTrigger
from recoup.activity.services import timeline_add
from recoup.activity.task_services import rule_task, total_in_base
from recoup.core.errors import DomainError, NotAllowed
from recoup.core.events import record_event
from recoup.core.money import Money, MoneyError, parse_amount, quantize
from recoup.core.notifications import notify
from recoup.disputes import rules
from recoup.disputes.models import (
    ACTIVE_STATUSES,
    Dispute,
    DisputeComment,
    DisputeDocument,
    DisputeReason,
    DisputeStatus,
    DisputeStatusChange,
    Outcome,
)
from recoup.disputes.rules import Action
from recoup.insights.hooks import rescore_on_commit
from recoup.ledger import services as ledger
from recoup.ledger.models import CreditNote, Invoice
from recoup.users.models import Role, Team, User

COMMENT_MAX_CHARS = 10_000
NAME_MAX_CHARS = 120


# Who may ----------------------------------------------------------------------------------------------------


def can(user: Any, action: Action, dispute: Dispute | None = None) -> bool:
    """Whether `user` may take `action` (on `dispute`, when given). The system (None) may do anything."""
    if user is None:
        return True
    if not (user.is_authenticated and user.is_active and rules.allowed(user.role, action)):
        return False
    return dispute is None or can_see(user, dispute)


def can_see(user: Any, dispute: Dispute) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if user.role not in rules.SCOPED_ROLES:
        return True
    return dispute.owner_id == user.pk or (user.team_id is not None and dispute.team_id == user.team_id)


def visible_to(user: Any) -> Q:
    """The disputes `user` may see, as a filter: a resolver sees those they or their team own."""
    if not getattr(user, "is_authenticated", False):
        return Q(pk__in=[])
    if user.role not in rules.SCOPED_ROLES:
        return Q()
    mine = Q(owner_id=user.pk)
    return mine | Q(team_id=user.team_id) if user.team_id is not None else mine


def _require(actor: Any, action: Action, dispute: Dispute | None = None) -> None:
    if not can(actor, action, dispute):
        if action == Action.WRITE_OFF:
            raise NotAllowed("Writing a dispute off needs a manager.")
        raise NotAllowed(f"Your role does not allow you to {action.value.replace('_', ' ')} this dispute.")


# Reasons ----------------------------------------------------------------------------------------------------


def reason_for(reason: DisputeReason | str) -> DisputeReason:
    if isinstance(reason, DisputeReason):
        if not reason.is_active:
            raise DomainError(f"{reason.code!r} is no longer an active reason.", field="reason")
        return reason
    found = DisputeReason.objects.filter(code=reason, is_active=True).first()
    if found is None:
        codes = ", ".join(DisputeReason.objects.filter(is_active=True).values_list("code", flat=True))
        raise DomainError(f"{reason!r} is not a dispute reason; use one of: {codes}.", field="reason")
    return found


@transaction.atomic
def reason_save(
    *,
    actor: Any,
    code: str,
    name: str,
    sla_days: int,
    default_team: Team | None = None,
    is_active: bool = True,
    position: int = 0,
    reason: DisputeReason | None = None,
) -> DisputeReason:
    """Create a reason, or change `reason`. Its code is fixed once disputes use it."""
    if not can(actor, Action.CONFIGURE):
        raise NotAllowed("Only a manager can change dispute reasons.")
    if reason is not None and reason.code != code and reason.disputes.exists():
        raise DomainError("The code of a reason in use cannot change.", field="code")
    others = DisputeReason.objects.exclude(pk=reason.pk) if reason is not None else DisputeReason.objects
    if others.filter(code=code).exists():
        raise DomainError(f"A reason with code {code!r} exists already.", field="code")
    if others.filter(name__iexact=name.strip()).exists():
        raise DomainError(f"A reason named {name.strip()!r} exists already.", field="name")
    if sla_days < 1 or sla_days > 365:
        raise DomainError("The SLA is between 1 and 365 days.", field="sla_days")
    reason = reason or DisputeReason()
    for field, value in dict(
        code=code,
        name=name,
        sla_days=sla_days,
        default_team=default_team,
        is_active=is_active,
        position=position,
    ).items():
        setattr(reason, field, value)
    try:
        reason.full_clean()
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise DomainError(" ".join(messages), field=field) from exc
    reason.save()
    record_event(actor=actor, verb="dispute_reason.saved", target=reason, data={"sla_days": sla_days})
    return reason


# Opening ----------------------------------------------------------------------------------------------------


@transaction.atomic
def dispute_open(
    *,
    actor: Any,
    invoice: Invoice,
    reason: DisputeReason | str,
    amount: Decimal | str | None = None,
    note: str = "",
    opened_on: dt.date | None = None,
    owner: User | None = None,
    team: Team | None = None,
) -> Dispute:
    """Dispute `amount` of the invoice (all that is open and not yet disputed when omitted).

    Together, the invoice's active disputes never exceed its open amount. With no owner given, the reason's
    default team owns it; its SLA runs from `opened_on` for the reason's days.
    """
    _require(actor, Action.OPEN)
    reason = reason_for(reason)
    invoice = Invoice.objects.select_for_update().select_related("customer").get(pk=invoice.pk)
    value = _amount(amount, invoice)
    opened_on = opened_on or timezone.localdate()
    if opened_on > timezone.localdate():
        raise DomainError("A dispute cannot open in the future.", field="opened_on")
    if opened_on < invoice.issue_date:
        raise DomainError(
            f"A dispute cannot open before its invoice was issued ({invoice.issue_date}).", field="opened_on"
        )
    _check_owner(owner)
    dispute = Dispute.objects.create(
        invoice=invoice,
        amount=value,
        currency=invoice.currency,
        reason=reason,
        note=note,
        opened_on=opened_on,
        sla_due_on=rules.sla_due(opened_on, reason.sla_days),
        owner=owner,
        team=team or (owner.team if owner is not None else None) or reason.default_team,
        created_by=_user(actor),
    )
    _status_change(dispute, "", DisputeStatus.OPEN, actor, note)
    money = Money(value, invoice.currency)
    _timeline(dispute, f"Dispute opened on {invoice.external_id}: {money} ({reason.name})", note, actor)
    event = record_event(
        actor=actor,
        verb="dispute.opened",
        target=dispute,
        data={"amount": str(value), "currency": invoice.currency, "reason": reason.code},
    )
    _notify_owners(dispute, event.pk, actor)
    rescore_on_commit(customer_id=invoice.customer_id)
    return dispute


def _amount(amount: Decimal | str | None, invoice: Invoice) -> Decimal:
    disputed = Dispute.objects.filter(invoice=invoice, status__in=ACTIVE_STATUSES).aggregate(
        total=Sum("amount")
    )["total"] or Decimal(0)
    room = quantize(invoice.open_amount - disputed, invoice.currency)
    if amount is None:
        if room <= 0:
            raise DomainError(
                f"{invoice.external_id} has nothing open that is not already disputed.", field="amount"
            )
        value = room
    else:
        try:
            value = parse_amount(amount, invoice.currency)
        except MoneyError as exc:
            raise DomainError(str(exc), field="amount") from exc
    if value > room:
        raise DomainError(
            f"{invoice.external_id} has {room} {invoice.currency} open and not yet disputed; "
            f"a dispute of {value} would exceed it.",
            field="amount",
        )
    if value <= 0:
        raise DomainError("A dispute must be for more than zero.", field="amount")
    return value


# Ownership and status ---------------------------------------------------------------------------------------


@transaction.atomic
def dispute_assign(
    *, actor: Any, dispute: Dispute, owner: User | None = None, team: Team | None = None
) -> Dispute:
    """Give the dispute to a person, a team, or a person in a team (the person's own team by default).
    The new owners get an email, and it is on their queue."""
    dispute = _locked(dispute)
    _require(actor, Action.ASSIGN, dispute)
    _check_active(dispute)
    if owner is None and team is None:
        raise DomainError("Name a person or a team to own the dispute.", field="owner")
    _check_owner(owner)
    team = team or (owner.team if owner is not None else None)
    if (dispute.owner_id, dispute.team_id) == (getattr(owner, "pk", None), getattr(team, "pk", None)):
        raise DomainError("The dispute is owned so already.", field="owner")
    dispute.owner, dispute.team = owner, team
    dispute.save(update_fields=["owner", "team", "updated_at"])
    who = _owner_text(dispute)
    _timeline(dispute, f"Dispute on {dispute.invoice.external_id} assigned to {who}", "", actor)
    event = record_event(
        actor=actor,
        verb="dispute.assigned",
        target=dispute,
        data={"owner": getattr(owner, "username", None), "team": getattr(team, "name", None)},
    )
    _notify_owners(dispute, event.pk, actor)
    return dispute


@transaction.atomic
def dispute_review(*, actor: Any, dispute: Dispute, note: str = "") -> Dispute:
    """open → in review."""
    dispute = _locked(dispute)
    _require(actor, Action.REVIEW, dispute)
    if dispute.status != DisputeStatus.OPEN:
        raise DomainError(f"The dispute is {dispute.get_status_display().lower()}, not open.", field="status")
    dispute.status = DisputeStatus.IN_REVIEW
    dispute.save(update_fields=["status", "updated_at"])
    _status_change(dispute, DisputeStatus.OPEN, DisputeStatus.IN_REVIEW, actor, note)
    _timeline(dispute, f"Dispute on {dispute.invoice.external_id} in review", note, actor)
    record_event(actor=actor, verb="dispute.status", target=dispute, data={"from": "open", "to": "in_review"})
    return dispute


@transaction.atomic
def dispute_comment(*, actor: Any, dispute: Dispute, body: str) -> DisputeComment:
    """A comment, which reaches the owners and the customer's collector by email."""
    dispute = _locked(dispute)
    _require(actor, Action.COMMENT, dispute)
    body = body.strip()
    if not body:
        raise DomainError("A comment cannot be empty.", field="body")
    if len(body) > COMMENT_MAX_CHARS:
        raise DomainError(f"A comment is at most {COMMENT_MAX_CHARS} characters.", field="body")
    comment = DisputeComment.objects.create(dispute=dispute, body=body, author=_user(actor))
    author = getattr(actor, "username", "Recoup")
    _timeline(dispute, f"Comment on the dispute on {dispute.invoice.external_id} by {author}", body, actor)
    record_event(actor=actor, verb="dispute.commented", target=dispute, data={"comment": comment.pk})
    subject = f"Comment on the dispute on {dispute.invoice.external_id}"
    text = f"{author} wrote on the dispute on {dispute.invoice.external_id}:\n\n{body}\n\n{_link(dispute)}\n"
    for user in _followers(dispute, actor):
        notify(key=f"dispute-comment:{comment.pk}:{user.pk}", recipient=user, subject=subject, body=text)
    return comment


@transaction.atomic
def dispute_attach(*, actor: Any, dispute: Dispute, upload: UploadedFile) -> DisputeDocument:
    """Store a document, refused unless its size and kind are allowed (rules.FILE_KINDS): the kind is told
    by the name and checked against the content. The stored name is random plus a sanitised one."""
    dispute = _locked(dispute)
    _require(actor, Action.ATTACH, dispute)
    limit = settings.RECOUP_DISPUTE_UPLOAD_MAX_BYTES
    size = upload.size or 0
    if size > limit:
        raise DomainError(
            f"{upload.name} is {size:,} bytes; a document is at most {limit:,} bytes.", field="file"
        )
    if size == 0:
        raise DomainError(f"{upload.name} is empty.", field="file")
    name = safe_name(upload.name or "document")
    upload.seek(0)
    head = upload.read(2048)
    try:
        kind = rules.file_kind(name, head)
    except rules.Refused as exc:
        raise DomainError(str(exc), field="file") from exc
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    document = DisputeDocument(
        dispute=dispute,
        token=uuid.uuid4().hex,
        name=name,
        content_type=kind.content_type,
        size=size,
        sha256=digest.hexdigest(),
        uploaded_by=_user(actor),
    )
    document.file.save(name, upload, save=False)
    try:
        document.save()
        _timeline(
            dispute, f"Document {name} added to the dispute on {dispute.invoice.external_id}", "", actor
        )
        record_event(
            actor=actor, verb="dispute.document", target=dispute, data={"document": document.pk, "name": name}
        )
    except BaseException:
        document.file.storage.delete(str(document.file.name))  # no row: no file left behind
        raise
    return document


def safe_name(name: str) -> str:
    """The last part of an uploaded name, stripped to letters, digits, dots, dashes and underscores."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    try:
        cleaned = get_valid_filename(base)
    except Exception:  # SuspiciousFileOperation for names like "..": nothing usable is left
        cleaned = ""
    cleaned = cleaned.lstrip(".") or "document"
    if len(cleaned) > NAME_MAX_CHARS:
        stem, dot, ext = cleaned.rpartition(".")
        cleaned = f"{stem[: NAME_MAX_CHARS - len(ext) - 1]}.{ext}" if dot and len(ext) < 10 else cleaned
        cleaned = cleaned[:NAME_MAX_CHARS]
    return cleaned


# Resolution -------------------------------------------------------------------------------------------------


@transaction.atomic
def dispute_resolve(
    *,
    actor: Any,
    dispute: Dispute,
    outcome: str,
    note: str = "",
    resolved_on: dt.date | None = None,
    amount: Decimal | str | None = None,
    credit_note_external_id: str = "",
) -> Dispute:
    """Close the dispute with its outcome; dunning takes up what is still open again from the invoice's
    current level.

    - credit note: a credit note of `amount` (the disputed amount by default) is issued and allocated to the
      invoice, dated `resolved_on`;
    - written off: `amount` of the invoice is written off (a manager only);
    - rejected: nothing changes in the ledger, and the amount is dunned again;
    - customer paid: the payment is in the ledger already (imported or posted), nothing else changes.
    """
    dispute = _locked(dispute)
    try:
        outcome = Outcome(outcome)
    except ValueError:
        raise DomainError(
            f"{outcome!r} is not an outcome; use one of: {', '.join(Outcome.values)}.", field="outcome"
        ) from None
    _require(actor, Action.WRITE_OFF if outcome == Outcome.WRITTEN_OFF else Action.RESOLVE, dispute)
    _check_active(dispute)
    resolved_on = resolved_on or timezone.localdate()
    if resolved_on < dispute.opened_on:
        raise DomainError(
            f"A dispute cannot be resolved before it opened ({dispute.opened_on}).", field="resolved_on"
        )
    if resolved_on > timezone.localdate():
        raise DomainError("A dispute cannot be resolved in the future.", field="resolved_on")
    invoice = Invoice.objects.select_for_update().select_related("customer").get(pk=dispute.invoice_id)
    settled = _settle(dispute, invoice, outcome, amount, resolved_on, note, credit_note_external_id, actor)
    before = dispute.status
    dispute.status = DisputeStatus.RESOLVED
    dispute.outcome = outcome
    dispute.resolved_on = resolved_on
    dispute.resolution_note = note
    dispute.resolved_by = _user(actor)
    dispute.save()
    _status_change(dispute, before, DisputeStatus.RESOLVED, actor, note)
    title = f"Dispute on {invoice.external_id} resolved: {outcome.label.lower()}"
    if settled is not None:
        title += f" ({Money(settled, invoice.currency)})"
    _timeline(dispute, title, note, actor)
    record_event(
        actor=actor,
        verb="dispute.resolved",
        target=dispute,
        data={
            "from": before,
            "to": DisputeStatus.RESOLVED,
            "outcome": outcome,
            "amount": str(settled) if settled is not None else None,
        },
    )
    rescore_on_commit(customer_id=invoice.customer_id)
    return dispute


def _settle(
    dispute: Dispute,
    invoice: Invoice,
    outcome: Outcome,
    amount: Decimal | str | None,
    on: dt.date,
    note: str,
    credit_note_external_id: str,
    actor: Any,
) -> Decimal | None:
    """What the outcome writes to the ledger; the amount it settled, or None for an outcome that writes
    nothing."""
    if outcome not in (Outcome.CREDIT_NOTE, Outcome.WRITTEN_OFF):
        if amount not in (None, ""):
            raise DomainError(f"A {outcome.label.lower()} outcome takes no amount.", field="amount")
        return None
    if amount in (None, ""):
        value = dispute.amount
    else:
        try:
            value = parse_amount(amount, invoice.currency)
        except MoneyError as exc:
            raise DomainError(str(exc), field="amount") from exc
    if value <= 0 or value > dispute.amount:
        raise DomainError(
            f"The amount settled is more than zero and at most the disputed "
            f"{Money(dispute.amount, dispute.currency)}.",
            field="amount",
        )
    if value > invoice.open_amount:
        raise DomainError(
            f"{invoice.external_id} has only {Money(invoice.open_amount, invoice.currency)} open; "
            f"settle at most that.",
            field="amount",
        )
    memo = f"Dispute {dispute.pk} ({dispute.reason.name})" + (f": {note}" if note else "")
    if outcome == Outcome.CREDIT_NOTE:
        external_id = credit_note_external_id.strip() or f"DSP-{dispute.pk}"
        if CreditNote.objects.filter(external_id=external_id).exists():
            raise DomainError(
                f"A credit note with external id {external_id!r} already exists.",
                field="credit_note_external_id",
            )
        dispute.credit_note = ledger.credit_note_create(
            actor=actor,
            customer=invoice.customer,
            external_id=external_id,
            date=on,
            amount=value,
            currency=invoice.currency,
            reason=memo[:255],
            apply_to=[ledger.Application(invoice=invoice, amount=value)],
        )
    else:
        dispute.write_off = ledger.write_off_create(
            actor=actor, invoice=invoice, amount=value, date=on, memo=memo[:255]
        )
    return value


# SLA --------------------------------------------------------------------------------------------------------


def disputes_check_sla(*, as_of: dt.date) -> int:
    """Mark the active disputes past their SLA on `as_of`, once each: a task for the owner's manager (the
    team's manager, else any manager), an entry on the timeline and an email. Returns how many it marked."""
    overdue = Dispute.objects.filter(
        status__in=ACTIVE_STATUSES, sla_due_on__lt=as_of, sla_breached_on__isnull=True
    ).values_list("pk", flat=True)
    marked = 0
    for pk in list(overdue):
        with transaction.atomic():
            dispute = _locked(Dispute(pk=pk))
            if dispute.sla_breached_on is not None or not dispute.is_active:
                continue  # marked or resolved meanwhile
            _breach(dispute, as_of)
            marked += 1
    return marked


def _breach(dispute: Dispute, as_of: dt.date) -> None:
    dispute.sla_breached_on = as_of
    dispute.save(update_fields=["sla_breached_on", "updated_at"])
    invoice = dispute.invoice
    manager = dispute.team.manager if dispute.team is not None else None
    days = (as_of - dispute.sla_due_on).days
    title = (
        f"Dispute on {invoice.external_id} is past its SLA ({dispute.reason.name}, due {dispute.sla_due_on})"
    )
    description = (
        f"{Money(dispute.amount, dispute.currency)} disputed since {dispute.opened_on}, owned by "
        f"{_owner_text(dispute)}; {days} day{'s' if days != 1 else ''} past its SLA.\n{_link(dispute)}"
    )
    task, _ = rule_task(
        trigger=TaskTrigger.DISPUTE_SLA,
        customer=invoice.customer,
        subject=dispute.pk,
        title=title,
        description=description,
        invoices=[invoice.pk],
        amount=total_in_base({dispute.currency: dispute.amount}, as_of),
        today=as_of,
        owner=manager,
        role=Role.MANAGER,
    )
    _timeline(dispute, title, "", None)
    record_event(
        actor=None, verb="dispute.sla_breached", target=dispute, data={"task": task.pk if task else None}
    )
    if manager is not None:
        notify(
            key=f"dispute-sla:{dispute.pk}:{manager.pk}",
            recipient=manager,
            subject=title,
            body=f"{description}\n",
        )


# Helpers ----------------------------------------------------------------------------------------------------


def _locked(dispute: Dispute) -> Dispute:
    return (
        Dispute.objects.select_for_update(of=("self",))
        .select_related("invoice", "invoice__customer", "reason", "owner", "team", "team__manager")
        .get(pk=dispute.pk)
    )


def _check_active(dispute: Dispute) -> None:
    if dispute.status == DisputeStatus.RESOLVED:
        raise DomainError("The dispute is already resolved.", field="status")


def _check_owner(owner: User | None) -> None:
    if owner is not None and not (owner.is_active and owner.role in rules.OWNER_ROLES):
        raise DomainError(f"{owner.username} cannot own a dispute (role {owner.role}).", field="owner")


def _user(actor: Any) -> User | None:
    return actor if getattr(actor, "pk", None) else None


def _owner_text(dispute: Dispute) -> str:
    if dispute.owner is not None and dispute.team is not None:
        return f"{dispute.owner.username} ({dispute.team.name})"
    if dispute.owner is not None:
        return dispute.owner.username
    return f"team {dispute.team.name}" if dispute.team is not None else "nobody"


def _status_change(dispute: Dispute, before: str, after: str, actor: Any, note: str) -> None:
    DisputeStatusChange.objects.create(
        dispute=dispute,
        from_status=before,
        to_status=after,
        changed_at=timezone.now(),
        changed_by=_user(actor),
        note=note,
    )


def _timeline(dispute: Dispute, title: str, body: str, actor: Any) -> None:
    timeline_add(
        customer=dispute.invoice.customer_id,
        kind=EntryKind.DISPUTE,
        title=title,
        body=body,
        status=dispute.status,
        source=dispute,
        invoices=[dispute.invoice_id],
        actor=actor,
    )


def _link(dispute: Dispute) -> str:
    return f"{settings.RECOUP_BASE_URL.rstrip('/')}{reverse('dispute-detail', args=[dispute.pk])}"


def _owners(dispute: Dispute) -> list[User]:
    """Who owns it: the person, else every active member of the team who may act on it."""
    if dispute.owner is not None:
        return [dispute.owner]
    if dispute.team is None:
        return []
    return list(
        dispute.team.members.filter(is_active=True, role__in=rules.OWNER_ROLES)
        .exclude(email="")
        .order_by("id")
    )


def _notify_owners(dispute: Dispute, event_id: int, actor: Any) -> None:
    invoice = dispute.invoice
    subject = f"Dispute on {invoice.external_id} ({invoice.customer.name}) assigned to you"
    body = (
        f"{getattr(actor, 'username', 'Recoup')} assigned you the dispute on {invoice.external_id} "
        f"for {Money(dispute.amount, dispute.currency)} ({dispute.reason.name}).\n"
        f"Customer: {invoice.customer.name}\nSLA: resolve by {dispute.sla_due_on}\n"
        + (f"\n{dispute.note}\n" if dispute.note else "")
        + f"\n{_link(dispute)}\n"
    )
    for user in _owners(dispute):
        if user.pk != getattr(actor, "pk", None):
            notify(key=f"dispute-assigned:{event_id}:{user.pk}", recipient=user, subject=subject, body=body)


def _followers(dispute: Dispute, actor: Any) -> Iterable[User]:
    people = {u.pk: u for u in _owners(dispute)}
    collector = dispute.invoice.customer.collector
    if collector is not None:
        people.setdefault(collector.pk, collector)
    people.pop(getattr(actor, "pk", None), None)  # type: ignore[arg-type]
    return people.values()
