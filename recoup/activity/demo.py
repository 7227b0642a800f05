"""The collector workspace for the demo ledger, after its dunning history: calls (some with promises that
were kept, partially kept or broken, and some still pending), notes that mention colleagues, emails sent by
hand from the templates, and a collections mailbox whose email is matched to customers, or waits in the
unmatched queue. Everything goes through the services, so the timeline, tasks and notifications are real.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

from django.core.files.base import ContentFile
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from recoup.activity import inbound
from recoup.activity.models import (
    Call,
    EntryKind,
    InboundAttachment,
    InboundEmail,
    InboundStatus,
    Mailbox,
    Promise,
    Task,
    TaskStatus,
    TimelineEntry,
)
from recoup.activity.promise_services import promises_evaluate
from recoup.activity.services import PromiseSpec, call_log, inbound_timeline_add, note_add
from recoup.core.errors import DomainError
from recoup.dunning.manual import email_send, install_message_templates
from recoup.dunning.models import Channel, MessageStatus, MessageTemplate, OutboundMessage
from recoup.ledger.models import Allocation, AllocationKind, Contact, Customer, Invoice
from recoup.users.models import Role, User

ActorFor = Callable[[Customer], User]
MAILBOX = "collections@recoup.example@imap.recoup.example:993/INBOX"
CALL_NOTES = {
    "reached": (
        "Spoke to AP: the invoices are approved and in the next payment run.",
        "They had lost the invoice; sent it again while on the phone.",
        "Cash is tight this month; they asked for a week.",
    ),
    "voicemail": ("Left a voicemail with the invoice numbers and our number.",),
    "no_answer": ("Rang twice, no answer.",),
    "wrong_number": ("The number on file reaches a warehouse; asked for the AP line.",),
}
NOTES = (
    "@{manager} they ask for a 60-day payment plan on the oldest invoices; can you approve?",
    "Their new AP clerk starts next week; send statements to the shared inbox, not to Pat.",
    "@{collector2} you know their CFO: could you call them about the final notice?",
    "Remittance says the wire left on Friday; will check the bank tomorrow.",
    "@{resolver} the customer disputes the freight charge on the last invoice; please look at the POD.",
    "Promised to pay in two instalments; first one due next week.",
)


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """A moment of a business day, never after now (the demo's "today" is the real today)."""
    moment = timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))
    return min(moment, timezone.now() - dt.timedelta(minutes=5))


def _retime_promise_entry(promise: Promise, when: dt.datetime) -> None:
    """A promise recorded with a call logged for an earlier day stands on the timeline with that call (the
    service dates its entry now); only the demo writes history after the fact."""
    TimelineEntry.objects.filter(
        kind=EntryKind.PROMISE, source_type="activity.promise", source_id=str(promise.pk), status="pending"
    ).update(occurred_at=when + dt.timedelta(minutes=1))


def demo_activity(*, today: dt.date, seed: int = 1) -> Counter[str]:
    """Seed the workspace once (nothing when a call exists already)."""
    counts: Counter[str] = Counter()
    if Call.objects.exists():
        return counts
    rng = random.Random(seed)
    install_message_templates()
    collectors = list(User.objects.filter(role=Role.COLLECTOR, is_active=True).order_by("id"))
    manager = User.objects.filter(role=Role.MANAGER, is_active=True).order_by("id").first()
    if not collectors:
        return counts
    names = {user.username: user for user in User.objects.filter(is_active=True)}

    def actor_for(customer: Customer) -> User:
        collector = customer.collector
        return collector if collector is not None and collector.role == Role.COLLECTOR else collectors[0]

    _promises_with_outcomes(rng, today, actor_for, counts)
    overdue = _overdue_customers(today)
    rng.shuffle(overdue)
    _calls(rng, today, overdue[:10], actor_for, counts)
    _notes(overdue[10:16], actor_for, names, manager, counts)
    _emails(overdue[:3], actor_for, counts)
    _inbound(rng, today, counts)
    evaluation = promises_evaluate(actor=None, as_of=today)
    counts.update({f"promises {k.replace('_', ' ')}": v for k, v in evaluation.counts.items() if v})
    return counts


def _overdue_customers(today: dt.date) -> list[Customer]:
    emailable = Contact.objects.filter(customer=OuterRef("pk"), is_ap=True).exclude(email="")
    late = Invoice.objects.filter(customer=OuterRef("pk"), open_amount__gt=0, due_date__lt=today)
    return list(
        Customer.objects.filter(Exists(late), Exists(emailable), do_not_dun=False)
        .select_related("collector")
        .order_by("id")[:200]
    )


def _promises_with_outcomes(
    rng: random.Random, today: dt.date, actor_for: ActorFor, counts: Counter[str]
) -> None:
    """Calls weeks ago whose promises the ledger has since answered: paid in full (kept), paid nearly in full
    (partially kept: within the tolerance), and not paid (broken, which makes a task); and calls this week
    with promises still pending."""
    reversed_ = Allocation.objects.filter(reverses=OuterRef("pk"))
    paid_in_one = list(
        Allocation.objects.filter(
            kind=AllocationKind.PAYMENT,
            reverses__isnull=True,
            amount=F("invoice__amount"),
            date__gte=today - dt.timedelta(days=45),
            date__lte=today - dt.timedelta(days=5),
        )
        .exclude(Exists(reversed_))
        .select_related("invoice__customer__collector")
        .order_by("id")[:400]
    )
    rng.shuffle(paid_in_one)
    seen: set[int] = set()
    stories = []
    for allocation in paid_in_one:
        if allocation.invoice.customer_id in seen:
            continue
        seen.add(allocation.invoice.customer_id)
        stories.append(allocation)
        if len(stories) == 4:
            break
    for n, allocation in enumerate(stories):
        invoice = allocation.invoice
        partial = n >= 2
        amount = invoice.amount
        if partial:  # about 5% more than was paid: a shortfall inside the 10% tolerance
            amount = (invoice.amount * Decimal("1.05")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        called = _at(allocation.date - dt.timedelta(days=4), 10 + n, 15)
        _promise_call(invoice, amount, allocation.date - dt.timedelta(days=1), called, actor_for, counts)

    untouched = Allocation.objects.filter(invoice=OuterRef("pk"))
    broken = list(
        Invoice.objects.filter(open_amount__gt=0, due_date__lt=today - dt.timedelta(days=30))
        .exclude(Exists(untouched))
        .exclude(customer_id__in=seen)
        .exclude(customer__do_not_dun=True)
        .select_related("customer__collector")
        .order_by("id")[:200]
    )
    rng.shuffle(broken)
    for n, invoice in enumerate(broken[:2]):
        called = _at(today - dt.timedelta(days=21 + n), 14, 30)
        _promise_call(
            invoice, invoice.open_amount, today - dt.timedelta(days=12 + n), called, actor_for, counts
        )
    for n, invoice in enumerate(broken[2:5]):
        called = _at(today - dt.timedelta(days=n), 9 + n, 40)
        _promise_call(
            invoice, invoice.open_amount, today + dt.timedelta(days=4 + 2 * n), called, actor_for, counts
        )


def _promise_call(
    invoice: Invoice,
    amount: Decimal,
    by: dt.date,
    called: dt.datetime,
    actor_for: ActorFor,
    counts: Counter[str],
) -> None:
    customer = invoice.customer
    contact = Contact.objects.filter(customer=customer).exclude(name="").order_by("id").first()
    call = call_log(
        actor=actor_for(customer),
        customer=customer,
        outcome="reached",
        duration_seconds=180 + invoice.pk % 400,
        notes=f"AP confirmed {invoice.external_id} will be paid by {by:%d %B}.",
        contact=contact,
        invoices=[invoice],
        promise=PromiseSpec(amount=amount, promised_date=by, invoices=[invoice]),
        called_at=called,
    )
    assert call.promise is not None
    _retime_promise_entry(call.promise, called)
    counts["calls"] += 1
    counts["promises"] += 1


def _calls(
    rng: random.Random, today: dt.date, customers: list[Customer], actor_for: ActorFor, counts: Counter[str]
) -> None:
    """Calls of every outcome over the last two weeks; a call on a customer with an open call task does it."""
    outcomes = ("reached", "voicemail", "no_answer", "reached", "wrong_number", "voicemail")
    for n, customer in enumerate(customers):
        outcome = outcomes[n % len(outcomes)]
        invoices = list(
            Invoice.objects.filter(customer=customer, open_amount__gt=0, due_date__lt=today).order_by(
                "due_date"
            )[:2]
        )
        actor = actor_for(customer)
        task = (
            Task.objects.filter(customer=customer, status=TaskStatus.OPEN, kind="call", owner=actor)
            .order_by("due_date", "id")
            .first()
        )
        contact = Contact.objects.filter(customer=customer).order_by("id").first()
        call_log(
            actor=actor,
            customer=customer,
            outcome=outcome,
            duration_seconds={"reached": 240, "voicemail": 45, "no_answer": 0, "wrong_number": 30}[outcome]
            + rng.randint(0, 120) * (outcome == "reached"),
            notes=rng.choice(CALL_NOTES[outcome]),
            contact=contact,
            invoices=invoices,
            task=task,
            called_at=_at(
                today - dt.timedelta(days=rng.randint(0, 13)), rng.randint(9, 16), rng.randint(0, 59)
            ),
        )
        counts["calls"] += 1
        counts["tasks done by a call"] += task is not None


def _notes(
    customers: list[Customer],
    actor_for: ActorFor,
    names: dict[str, User],
    manager: User | None,
    counts: Counter[str],
) -> None:
    handles = {
        "manager": manager.username if manager else "manager",
        "collector2": "collector2" if "collector2" in names else next(iter(names)),
        "resolver": next((u for u, user in names.items() if user.role == Role.RESOLVER), "resolver"),
    }
    for text, customer in zip(NOTES, customers, strict=False):
        invoice = Invoice.objects.filter(customer=customer, open_amount__gt=0).order_by("due_date").first()
        body = text.format(**handles)
        author = actor_for(customer)
        if f"@{author.username} " in body:  # nobody mentions themselves: a colleague writes it
            author = next(
                (u for u in names.values() if u.role == Role.COLLECTOR and u.pk != author.pk), author
            )
        note = note_add(
            actor=author,
            customer=customer,
            body=body,
            invoices=[invoice] if invoice else [],
        )
        counts["notes"] += 1
        counts["mentions"] += note.mentions.count()


def _emails(customers: list[Customer], actor_for: ActorFor, counts: Counter[str]) -> None:
    """Emails sent by hand, from the built-in templates, through the outbox (the email backend gets them)."""
    templates = {t.name: t for t in MessageTemplate.objects.filter(is_active=True, language="en")}
    chosen = ("Following up on our call", "Payment plan proposal", "Invoice details")
    for n, (name, customer) in enumerate(zip(chosen, customers, strict=False)):
        template = templates.get(name)
        if template is None:
            continue
        invoices = list(Invoice.objects.filter(customer=customer, open_amount__gt=0).order_by("due_date")[:3])
        try:
            email_send(
                actor=actor_for(customer),
                customer=customer,
                template=template,
                request_key=f"demo-email-{customer.pk}-{n}",
                invoices=invoices,
            )
        except DomainError:
            continue
        counts["emails by hand"] += 1


def _inbound(rng: random.Random, today: dt.date, counts: Counter[str]) -> None:
    """A collections mailbox as the poller leaves it: replies to our reminders (one with a remittance
    attached, one automatic), an email from a contact, one naming an invoice from a free-mail address, and
    two that match nothing and wait in the queue."""
    sent = list(
        OutboundMessage.objects.filter(status=MessageStatus.SENT, channel=Channel.EMAIL, level__isnull=False)
        .exclude(message_id="")
        .select_related("customer")
        .order_by("-sent_at")[:40]
    )
    rng.shuffle(sent)
    mailbox, _ = Mailbox.objects.get_or_create(key=MAILBOX, defaults={"uidvalidity": 1})
    now = timezone.now()
    messages: list[tuple[inbound.Parsed, bytes | None]] = []
    for n, reminder in enumerate(sent[:3]):
        contact = Contact.objects.filter(customer=reminder.customer).exclude(email="").order_by("id").first()
        if contact is None:
            continue
        parsed = inbound.Parsed(
            message_id=f"<demo-reply-{reminder.pk}@customer.example>",
            in_reply_to=reminder.message_id,
            references=reminder.message_id,
            from_address=contact.email,
            from_name=contact.name,
            to="collections@recoup.example",
            subject=f"Re: {reminder.subject}",
            # A reply comes after the reminder it answers (the demo's reminders were all sent just now).
            sent_at=min(reminder.sent_at + dt.timedelta(hours=2 + n), now) if reminder.sent_at else now,
        )
        if n == 2:
            parsed.subject = f"Automatic reply: {reminder.subject}"
            parsed.body_text = "I am out of the office until Monday with limited access to email."
            parsed.is_auto_reply = True
            messages.append((parsed, None))
        else:
            parsed.body_text = (
                "Hello,\n\nThe payment left our account this morning; the remittance advice is attached.\n\n"
                f"Regards,\n{contact.name or 'Accounts Payable'}"
            )
            messages.append((parsed, b"Remittance advice\nAmount: see invoices listed\n" if n == 0 else None))
    someone = (
        Contact.objects.filter(customer__in=[m.customer_id for m in sent[3:6]]).exclude(email="").first()
    )
    if someone is not None:
        messages.append(
            (
                inbound.Parsed(
                    message_id="<demo-question@customer.example>",
                    from_address=someone.email,
                    from_name=someone.name,
                    subject="Question about our statement",
                    body_text="Could you send us a copy of the statement? Our records show a credit note.",
                    sent_at=now - dt.timedelta(days=1, hours=2),
                ),
                None,
            )
        )
    late = Invoice.objects.filter(open_amount__gt=0, due_date__lt=today).order_by("-due_date").first()
    if late is not None:
        messages.append(
            (
                inbound.Parsed(
                    message_id="<demo-invoice@mail.example>",
                    from_address="jordan.smith.ap@gmail.com",
                    from_name="Jordan Smith",
                    subject=f"Invoice {late.external_id}",
                    body_text=f"Hi, we can't find a PO for {late.external_id}. Who ordered it?",
                    sent_at=now - dt.timedelta(hours=30),
                ),
                None,
            )
        )
    messages += [
        (
            inbound.Parsed(
                message_id="<demo-w9@vendor.example>",
                from_address="procurement@unknown-buyer.example",
                from_name="Procurement",
                subject="Vendor onboarding: W-9 needed",
                body_text="Please send your W-9 so that we can set you up as a vendor.",
                sent_at=now - dt.timedelta(hours=3),
            ),
            None,
        ),
        (
            inbound.Parsed(
                message_id="<demo-newsletter@news.example>",
                from_address="news@finance-weekly.example",
                from_name="Finance Weekly",
                subject="This week in receivables",
                body_text="Five ways to lower your DSO.",
                sent_at=now - dt.timedelta(days=2),
            ),
            None,
        ),
    ]
    for uid, (parsed, attachment) in enumerate(messages, start=mailbox.last_uid + 1):
        found = inbound.match(parsed)
        email = InboundEmail.objects.create(
            mailbox=mailbox,
            uidvalidity=mailbox.uidvalidity or 1,
            uid=uid,
            message_id=parsed.message_id,
            in_reply_to=parsed.in_reply_to,
            references=parsed.references,
            from_address=parsed.from_address,
            from_name=parsed.from_name,
            to=parsed.to,
            subject=parsed.subject,
            body_text=parsed.body_text,
            sent_at=parsed.sent_at,
            customer_id=found.customer_id,
            status=InboundStatus.MATCHED if found.customer_id is not None else InboundStatus.UNMATCHED,
            matched_by=found.matched_by,
            is_auto_reply=parsed.is_auto_reply,
        )
        if found.invoice_ids:
            email.invoices.set(found.invoice_ids)
        if attachment is not None:
            stored = InboundAttachment(email=email, filename="remittance.txt", content_type="text/plain")
            stored.size = len(attachment)
            stored.file.save("remittance.txt", ContentFile(attachment), save=True)
        if email.customer_id is not None:
            inbound_timeline_add(email=email, actor=None)
        counts["inbound matched" if email.customer_id is not None else "inbound unmatched"] += 1
    Mailbox.objects.filter(pk=mailbox.pk).update(last_uid=mailbox.last_uid + len(messages), polled_at=now)
