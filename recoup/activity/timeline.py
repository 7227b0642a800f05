"""A customer's timeline, read: the stored entries (emails out and in, calls, notes, letters, promises,
dispute and task events) merged with the payments and credit notes of the ledger, newest first.

Payments and credit notes are never stored as entries (imports write millions of them): they are read from
the ledger here, each with the invoices its allocations settle, reversed allocations marked. A ledger
document has a business date, not a time: it stands at the start of that day in TIME_ZONE, below what was
recorded during the day.

Pages are keyset pages: a cursor names the last item shown (its time, its source's rank, its id), and the
next page reads, from each source, the items after it, at most `limit + 1` of each. So a page costs the same
few queries however long the history is (two per source: the rows, then their invoices; plus one for the
attachments of inbound emails when the page has any).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from recoup.activity.models import EntryKind, InboundAttachment, TimelineEntry
from recoup.core.errors import DomainError
from recoup.ledger.models import Allocation, CreditNote, Customer, Invoice, Payment

LEDGER_KINDS = frozenset({EntryKind.PAYMENT, EntryKind.CREDIT_NOTE})
STORED_KINDS = frozenset(EntryKind.values) - LEDGER_KINDS
# Ties at the same instant: stored entries above payments, payments above credit notes (newest first).
RANK = {"entry": 2, EntryKind.PAYMENT: 1, EntryKind.CREDIT_NOTE: 0}
# The filter of the timeline panel: a few kinds shown together.
KIND_GROUPS: dict[str, tuple[str, ...]] = {
    "email": (EntryKind.EMAIL_OUT, EntryKind.EMAIL_IN),
    "call": (EntryKind.CALL,),
    "note": (EntryKind.NOTE,),
    "promise": (EntryKind.PROMISE,),
    "payment": (EntryKind.PAYMENT, EntryKind.CREDIT_NOTE),
    "dispute": (EntryKind.DISPUTE,),
    "task": (EntryKind.TASK, EntryKind.CALL_TASK),
    "letter": (EntryKind.LETTER, EntryKind.CREDIT_HOLD),
}
KIND_GROUP_LABELS = {
    "email": "Emails",
    "call": "Calls",
    "note": "Notes",
    "promise": "Promises",
    "payment": "Payments and credit notes",
    "dispute": "Disputes",
    "task": "Tasks",
    "letter": "Letters and holds",
}
MAX_LIMIT = 200


@dataclass(frozen=True)
class InvoiceRef:
    """An invoice an item concerns; for a payment or credit note, the amount it applied and whether that
    application was reversed since."""

    id: int
    number: str
    amount: Decimal | None = None
    currency: str = ""
    reversed_on: dt.date | None = None


@dataclass(frozen=True)
class Attachment:
    id: int
    filename: str
    size: int


@dataclass
class TimelineItem:
    kind: str
    kind_label: str
    occurred_at: dt.datetime
    title: str
    position: Cursor
    body: str = ""
    status: str = ""
    actor: str = ""
    on_date: dt.date | None = None  # a ledger document: its business date, and no time
    amount: Decimal | None = None
    currency: str = ""
    source_type: str = ""
    source_id: str = ""
    invoices: list[InvoiceRef] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    link: str = ""  # set by the page that shows it

    @property
    def cursor(self) -> str:
        """Where the next page starts, after this item."""
        return str(self.position)

    @property
    def source_pk(self) -> int | None:
        return int(self.source_id) if self.source_id.isdigit() else None


@dataclass(frozen=True, order=True)
class Cursor:
    occurred_at: dt.datetime
    rank: int
    id: int

    def __str__(self) -> str:
        return f"{self.occurred_at.astimezone(dt.UTC).isoformat()}~{self.rank}~{self.id}"

    @classmethod
    def parse(cls, text: str) -> Cursor:
        try:
            when, rank, pk = text.split("~")
            occurred_at = dt.datetime.fromisoformat(when)
            cursor = cls(occurred_at, int(rank), int(pk))
        except ValueError as exc:
            raise DomainError(
                "This is not a timeline position; start from the first page.", field="before"
            ) from exc
        if timezone.is_naive(occurred_at) or cursor.rank not in RANK.values() or cursor.id < 0:
            raise DomainError("This is not a timeline position; start from the first page.", field="before")
        return cursor


@dataclass
class TimelinePage:
    items: list[TimelineItem]
    next_cursor: str | None  # None: this is the oldest page


def kinds_of_groups(groups: Iterable[str]) -> set[str]:
    """The entry kinds of the panel's groups; unknown groups are refused with the field `kind`."""
    kinds: set[str] = set()
    for group in groups:
        if group not in KIND_GROUPS:
            raise DomainError(
                f"Unknown kind {group!r}; choose one of {', '.join(KIND_GROUPS)}.", field="kind"
            )
        kinds.update(KIND_GROUPS[group])
    return kinds


def customer_activity(
    *,
    customer: Customer | int,
    kinds: Collection[str] = (),
    invoice: Invoice | int | None = None,
    before: str | Cursor | None = None,
    limit: int = 50,
) -> TimelinePage:
    """One page of the customer's timeline, newest first: `kinds` (EntryKind values; empty: all) and
    `invoice` (the items that concern it) filter it; `before` is the cursor of the previous page's last
    item."""
    unknown = set(kinds) - set(EntryKind.values)
    if unknown:
        raise DomainError(f"Unknown kind {sorted(unknown)[0]!r}.", field="kind")
    if not 1 <= limit <= MAX_LIMIT:
        raise DomainError(f"A page has from 1 to {MAX_LIMIT} items.", field="limit")
    customer_id = customer if isinstance(customer, int) else customer.pk
    invoice_id = invoice if isinstance(invoice, int) or invoice is None else invoice.pk
    cursor = Cursor.parse(before) if isinstance(before, str) else before
    wanted = set(kinds) or set(EntryKind.values)
    items: list[TimelineItem] = []
    stored = wanted & STORED_KINDS
    if stored:
        items += _entries(customer_id, stored, invoice_id, cursor, limit)
    if EntryKind.PAYMENT in wanted:
        items += _ledger(Payment, EntryKind.PAYMENT, customer_id, invoice_id, cursor, limit)
    if EntryKind.CREDIT_NOTE in wanted:
        items += _ledger(CreditNote, EntryKind.CREDIT_NOTE, customer_id, invoice_id, cursor, limit)
    items.sort(key=lambda item: item.position, reverse=True)
    page = items[:limit]
    more = len(items) > limit
    return TimelinePage(page, page[-1].cursor if more else None)


def _after(cursor: Cursor | None, rank: int, time_field: str) -> Q:
    """The rows of a source of rank `rank` that come after `cursor` newest first, by (time, rank, id)."""
    if cursor is None:
        return Q()
    if rank < cursor.rank:
        return Q(**{f"{time_field}__lte": cursor.occurred_at})
    if rank > cursor.rank:
        return Q(**{f"{time_field}__lt": cursor.occurred_at})
    return Q(**{f"{time_field}__lt": cursor.occurred_at}) | Q(
        **{time_field: cursor.occurred_at, "id__lt": cursor.id}
    )


def _entries(
    customer_id: int, kinds: set[str], invoice_id: int | None, cursor: Cursor | None, limit: int
) -> list[TimelineItem]:
    entries: QuerySet[TimelineEntry] = TimelineEntry.objects.filter(customer_id=customer_id)
    if kinds != STORED_KINDS:
        entries = entries.filter(kind__in=sorted(kinds))
    if invoice_id is not None:
        entries = entries.filter(
            Exists(
                TimelineEntry.invoices.through.objects.filter(
                    timelineentry_id=OuterRef("pk"), invoice_id=invoice_id
                )
            )
        )
    rows = list(
        entries.filter(_after(cursor, RANK["entry"], "occurred_at"))
        .select_related("actor")
        .prefetch_related(
            Prefetch("invoices", queryset=Invoice.objects.only("id", "external_id").order_by("id"))
        )
        .order_by("-occurred_at", "-id")[: limit + 1]
    )
    labels = dict(EntryKind.choices)
    inbound = [
        int(e.source_id) for e in rows if e.source_type == "activity.inboundemail" and e.source_id.isdigit()
    ]
    attachments: dict[int, list[Attachment]] = {}
    if inbound:
        for attachment in InboundAttachment.objects.filter(email_id__in=inbound).order_by("id"):
            attachments.setdefault(attachment.email_id, []).append(
                Attachment(attachment.pk, attachment.filename, attachment.size)
            )
    return [
        TimelineItem(
            kind=entry.kind,
            kind_label=labels.get(entry.kind, entry.kind),
            occurred_at=entry.occurred_at,
            title=entry.title,
            position=Cursor(entry.occurred_at, RANK["entry"], entry.pk),
            body=entry.body,
            status=entry.status,
            actor=entry.actor.username if entry.actor else "",
            source_type=entry.source_type,
            source_id=entry.source_id,
            invoices=[InvoiceRef(i.pk, i.external_id) for i in entry.invoices.all()],
            attachments=(
                attachments.get(int(entry.source_id), [])
                if entry.source_type == "activity.inboundemail"
                else []
            ),
        )
        for entry in rows
    ]


def day_start(day: dt.date) -> dt.datetime:
    """Where a business date stands on the timeline: its first moment in TIME_ZONE."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_default_timezone())


def _date_after(cursor: Cursor | None, rank: int) -> Q:
    """_after for rows placed at the start of their `date`: the cursor's time turned into a bound on dates."""
    if cursor is None:
        return Q()
    bound = timezone.localtime(cursor.occurred_at, timezone.get_default_timezone()).date()
    at_start = day_start(bound) == cursor.occurred_at
    before = Q(date__lt=bound) if at_start else Q(date__lte=bound)  # start of day < cursor
    if rank > cursor.rank or not at_start:
        return before
    same = Q(date=bound)  # start of day == cursor
    if rank < cursor.rank:
        return before | same
    return before | (same & Q(id__lt=cursor.id))


def _ledger(
    model: type[Payment] | type[CreditNote],
    kind: str,
    customer_id: int,
    invoice_id: int | None,
    cursor: Cursor | None,
    limit: int,
) -> list[TimelineItem]:
    rank = RANK[kind]
    link = "payment" if model is Payment else "credit_note"
    documents: QuerySet[Any] = model.objects.filter(customer_id=customer_id)
    if invoice_id is not None:
        documents = documents.filter(
            Exists(Allocation.objects.filter(**{link: OuterRef("pk")}, invoice_id=invoice_id))
        )
    allocations = Allocation.objects.select_related("invoice").only(
        "id", "amount", "currency", "date", "reverses_id", link + "_id", "invoice__id", "invoice__external_id"
    )
    rows = list(
        documents.filter(_date_after(cursor, rank))
        .prefetch_related(Prefetch("allocations", queryset=allocations.order_by("date", "id")))
        .order_by("-date", "-id")[: limit + 1]
    )
    label = dict(EntryKind.choices)[kind]
    items = []
    for document in rows:
        rows_of = list(document.allocations.all())
        reversed_on = {a.reverses_id: a.date for a in rows_of if a.reverses_id is not None}
        refs = [
            InvoiceRef(a.invoice_id, a.invoice.external_id, a.amount, a.currency, reversed_on.get(a.pk))
            for a in rows_of
            if a.reverses_id is None
        ]
        what = "Payment" if model is Payment else "Credit note"
        detail = getattr(document, "reference", "") or getattr(document, "reason", "")
        at = day_start(document.date)
        items.append(
            TimelineItem(
                kind=kind,
                kind_label=label,
                occurred_at=at,
                title=f"{what} {document.external_id}" + (f": {detail}" if detail else ""),
                position=Cursor(at, rank, document.pk),
                on_date=document.date,
                amount=document.amount,
                currency=document.currency,
                status="unapplied" if document.unapplied_amount == document.amount else "",
                source_type=document._meta.label_lower,
                source_id=str(document.pk),
                invoices=refs,
            )
        )
    return items
