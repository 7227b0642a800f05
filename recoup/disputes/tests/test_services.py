"""The dispute workflow through its services: amounts, owners, status history, the ledger effect of every
outcome, who may do what, documents, and the SLA check."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from recoup.activity.models import EntryKind, Task, TaskKind, TaskStatus, TimelineEntry
from recoup.core.errors import DomainError, NotAllowed
from recoup.core.models import Event
from recoup.disputes import services
from recoup.disputes.defaults import install_reasons
from recoup.disputes.models import (
    Dispute,
    DisputeDocument,
    DisputeReason,
    DisputeStatus,
    DisputeStatusChange,
    Outcome,
)
from recoup.ledger import aging
from recoup.ledger.models import Allocation, AllocationKind, CreditNote
from recoup.ledger.tests.factories import InvoiceFactory
from recoup.users.models import Role, Team

D = dt.date
TODAY = D(2026, 6, 1)
DUE = D(2026, 4, 1)
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC), tick=True):
        yield


@pytest.fixture(autouse=True)
def reasons(db):
    return {reason.code: reason for reason in install_reasons()}


@pytest.fixture
def billing(make_user):
    """The billing team: a manager and two resolvers."""
    team = Team.objects.create(name="Billing")
    boss = make_user(Role.MANAGER, "bea")
    team.manager = boss
    team.save()
    first, second = make_user(Role.RESOLVER, "rui"), make_user(Role.RESOLVER, "rita")
    for user in (first, second):
        user.team = team
        user.save()
    return team


def test_partial_and_several_disputes_never_exceed_the_open_amount(books, collector):
    invoice = books.invoice(books.customer("PART"), DUE, "100.00")
    first = services.dispute_open(actor=collector, invoice=invoice, reason="pricing", amount="60.00")

    with pytest.raises(
        DomainError, match=r"has 40\.00 USD open and not yet disputed; a dispute of 40\.01"
    ) as e:
        services.dispute_open(actor=collector, invoice=invoice, reason="pricing", amount="40.01")
    assert e.value.field == "amount"
    rest = services.dispute_open(actor=collector, invoice=invoice, reason="quantity")  # all that is left

    assert (first.amount, rest.amount) == (Decimal("60.00"), Decimal("40.00"))
    with pytest.raises(DomainError, match="has nothing open that is not already disputed"):
        services.dispute_open(actor=collector, invoice=invoice, reason="tax")
    assert Dispute.objects.filter(invoice=invoice).count() == 2

    services.dispute_resolve(actor=None, dispute=first, outcome="rejected")
    again = services.dispute_open(actor=collector, invoice=invoice, reason="pricing", amount="60.00")
    assert again.amount == Decimal("60.00")


def test_opening_sets_the_sla_the_default_team_the_history_and_the_timeline(books, collector, billing):
    reason = DisputeReason.objects.get(code="not_received")
    reason.default_team = billing
    reason.save()
    invoice = books.invoice(books.customer("SLA"), DUE, "250.00", external_id="INV-7")

    dispute = services.dispute_open(
        actor=collector,
        invoice=invoice,
        reason="not_received",
        note="Never arrived",
        opened_on=D(2026, 5, 20),
    )

    assert dispute.sla_due_on == D(2026, 5, 27)  # 7 days
    assert (dispute.owner, dispute.team) == (None, billing)
    assert dispute.status == DisputeStatus.OPEN
    [change] = DisputeStatusChange.objects.filter(dispute=dispute)
    assert (change.from_status, change.to_status, change.changed_by, change.note) == (
        "",
        "open",
        collector,
        "Never arrived",
    )
    [entry] = TimelineEntry.objects.filter(kind=EntryKind.DISPUTE)
    assert entry.title == "Dispute opened on INV-7: 250.00 USD (Not received)"
    assert (entry.customer_id, list(entry.invoices.all()), entry.actor) == (
        invoice.customer_id,
        [invoice],
        collector,
    )


def test_opening_refuses_what_is_not_a_dispute(books, collector):
    invoice = books.invoice(books.customer("BAD"), DUE, "100.00")
    cases = [
        ({"reason": "weather"}, "reason", "'weather' is not a dispute reason; use one of: pricing, quantity"),
        ({"reason": "pricing", "amount": "0"}, "amount", "more than zero"),
        ({"reason": "pricing", "amount": "-5"}, "amount", "more than zero"),
        ({"reason": "pricing", "amount": "1.005"}, "amount", "more decimals than USD allows"),
        ({"reason": "pricing", "amount": "1e3"}, "amount", "not a plain decimal"),
        ({"reason": "pricing", "opened_on": D(2026, 6, 2)}, "opened_on", "cannot open in the future"),
        ({"reason": "pricing", "opened_on": D(2026, 2, 28)}, "opened_on", "before its invoice was issued"),
    ]
    for kwargs, field, message in cases:
        with pytest.raises(DomainError, match=message) as refused:
            services.dispute_open(actor=collector, invoice=invoice, **kwargs)
        assert refused.value.field == field
    assert not Dispute.objects.exists()
    assert not TimelineEntry.objects.filter(kind=EntryKind.DISPUTE).exists()


def test_assignment_emails_the_owner_and_a_team_assignment_emails_its_members(
    books, manager, billing, smtp, django_capture_on_commit_callbacks
):
    invoice = books.invoice(books.customer("ASSIGN"), DUE, "80.00", external_id="INV-A")
    rui = billing.members.get(username="rui")
    with django_capture_on_commit_callbacks(execute=True):
        dispute = services.dispute_open(actor=manager, invoice=invoice, reason="pricing")
    assert smtp.received == []  # nobody owns it yet: the pricing reason has no default team

    with django_capture_on_commit_callbacks(execute=True):
        services.dispute_assign(actor=manager, dispute=dispute, owner=rui)
    [mail] = smtp.received
    assert mail.rcpt_tos == ["rui@example.com"]
    assert mail.message["Subject"] == "Dispute on INV-A (ASSIGN Ltd) assigned to you"
    assert "manager assigned you the dispute on INV-A for 80.00 USD (Pricing)." in mail.text
    assert f"http://127.0.0.1:8000/disputes/{dispute.pk}/" in mail.text
    dispute.refresh_from_db()
    assert (dispute.owner, dispute.team) == (rui, billing)  # the person's own team

    with django_capture_on_commit_callbacks(execute=True):
        services.dispute_assign(actor=manager, dispute=dispute, team=billing)
    # The team's members; its manager is not one of them, and hears of it only when the SLA is missed.
    assert sorted(r for m in smtp.received[1:] for r in m.rcpt_tos) == ["rita@example.com", "rui@example.com"]
    with pytest.raises(DomainError, match="owned so already"):
        services.dispute_assign(actor=manager, dispute=dispute, team=billing)
    titles = list(
        TimelineEntry.objects.filter(kind=EntryKind.DISPUTE).order_by("id").values_list("title", flat=True)
    )
    assert titles == [
        "Dispute opened on INV-A: 80.00 USD (Pricing)",
        "Dispute on INV-A assigned to rui (Billing)",
        "Dispute on INV-A assigned to team Billing",
    ]


def test_a_notification_is_sent_once_even_when_delivery_runs_again(books, manager, billing, smtp):
    from recoup.core import notifications
    from recoup.core.models import Notification, NotificationStatus

    dispute = services.dispute_open(
        actor=manager, invoice=books.invoice(books.customer("ONCE"), DUE), reason="tax", owner=manager
    )
    services.dispute_assign(actor=manager, dispute=dispute, owner=billing.members.get(username="rui"))
    [notice] = Notification.objects.all()  # the manager assigned it to themselves first: no email for that
    assert (notice.to_email, notice.status) == ("rui@example.com", NotificationStatus.PENDING)

    assert notifications.deliver_due() == {"sent": 1}
    assert notifications.deliver_due() == {}
    assert len(smtp.received) == 1
    assert smtp.received[0].message["Message-ID"] == notice.message_id

    smtp.refuse_next.append("451 try later")
    services.dispute_comment(actor=manager, dispute=dispute, body="Credit agreed?")
    assert notifications.deliver_due() == {"retry": 1}
    retried = Notification.objects.get(key__startswith="dispute-comment:")
    assert (retried.status, retried.attempts) == (NotificationStatus.PENDING, 1)
    assert retried.last_error == "attempt 1: SMTP 451: try later"
    assert notifications.deliver_due() == {}  # not before its backoff
    later = retried.next_attempt_at + dt.timedelta(seconds=1)
    assert notifications.deliver_due(now=later) == {"sent": 1}
    assert [m.message["Subject"] for m in smtp.received] == [
        "Dispute on ONCE-001 (ONCE Ltd) assigned to you",
        "Comment on the dispute on ONCE-001",
    ]


def test_review_then_resolve_records_every_status_change(books, manager, billing):
    rui = billing.members.get(username="rui")
    dispute = services.dispute_open(
        actor=manager, invoice=books.invoice(books.customer("FLOW"), DUE), reason="tax"
    )
    services.dispute_assign(actor=manager, dispute=dispute, owner=rui)
    services.dispute_review(actor=rui, dispute=dispute, note="Checking the rate")
    with pytest.raises(DomainError, match="in review, not open"):
        services.dispute_review(actor=rui, dispute=dispute)
    services.dispute_resolve(actor=rui, dispute=dispute, outcome="rejected", note="Rate is right")

    history = list(
        DisputeStatusChange.objects.filter(dispute=dispute).values_list(
            "from_status", "to_status", "changed_by"
        )
    )
    assert history == [
        ("", "open", manager.pk),
        ("open", "in_review", rui.pk),
        ("in_review", "resolved", rui.pk),
    ]
    dispute.refresh_from_db()
    assert (dispute.outcome, dispute.resolution_note, dispute.resolved_on, dispute.resolved_by) == (
        Outcome.REJECTED,
        "Rate is right",
        TODAY,
        rui,
    )
    for action in (
        lambda: services.dispute_resolve(actor=manager, dispute=dispute, outcome="rejected"),
        lambda: services.dispute_assign(actor=manager, dispute=dispute, owner=manager),
    ):
        with pytest.raises(DomainError, match="already resolved"):
            action()


def test_a_credit_note_outcome_issues_and_allocates_a_credit_note_and_aging_follows(books, manager):
    customer = books.customer("CREDIT")
    invoice = books.invoice(customer, DUE, "500.00", external_id="INV-C")
    dispute = services.dispute_open(actor=manager, invoice=invoice, reason="pricing", amount="120.00")
    before = aging.aging_report(as_of=TODAY, by="total").total.total

    services.dispute_resolve(actor=manager, dispute=dispute, outcome="credit_note", note="Price list error")

    invoice.refresh_from_db()
    dispute.refresh_from_db()
    assert invoice.open_amount == Decimal("380.00")
    note = dispute.credit_note
    assert (note.external_id, note.amount, note.unapplied_amount, note.date) == (
        f"DSP-{dispute.pk}",
        Decimal("120.00"),
        Decimal("0.00"),
        TODAY,
    )
    assert note.reason == f"Dispute {dispute.pk} (Pricing): Price list error"
    [allocation] = Allocation.objects.filter(invoice=invoice)
    assert (allocation.kind, allocation.amount, allocation.credit_note) == (
        AllocationKind.CREDIT_NOTE,
        Decimal("120.00"),
        note,
    )
    assert aging.aging_report(as_of=TODAY, by="total").total.total == before - Decimal("120.00")
    # Aging as of the day before the resolution still shows the whole invoice: the credit note is dated.
    assert aging.aging_report(as_of=TODAY - dt.timedelta(days=1), by="total").total.total == before
    assert TimelineEntry.objects.filter(title="Dispute on INV-C resolved: credit note (120.00 USD)").exists()


def test_a_partial_credit_and_a_named_credit_note(books, manager):
    invoice = books.invoice(books.customer("PARTIAL"), DUE, "500.00")
    dispute = services.dispute_open(actor=manager, invoice=invoice, reason="pricing", amount="120.00")
    with pytest.raises(DomainError, match=r"at most the disputed 120\.00 USD"):
        services.dispute_resolve(actor=manager, dispute=dispute, outcome="credit_note", amount="120.01")
    books.credit(books.invoice(invoice.customer, DUE), "10.00", TODAY)  # takes the credit-note id CN-0003
    with pytest.raises(DomainError, match="'CN-0003' already exists") as refused:
        services.dispute_resolve(
            actor=manager, dispute=dispute, outcome="credit_note", credit_note_external_id="CN-0003"
        )
    assert refused.value.field == "credit_note_external_id"

    services.dispute_resolve(
        actor=manager, dispute=dispute, outcome="credit_note", amount="70.00", credit_note_external_id="CN-77"
    )

    invoice.refresh_from_db()
    assert invoice.open_amount == Decimal("430.00")
    assert CreditNote.objects.get(external_id="CN-77").amount == Decimal("70.00")


def test_a_write_off_needs_a_manager_and_writes_off_through_the_ledger(books, manager, billing):
    rui = billing.members.get(username="rui")
    invoice = books.invoice(books.customer("WOFF"), DUE, "90.00")
    dispute = services.dispute_open(actor=manager, invoice=invoice, reason="damaged_goods", owner=rui)

    with pytest.raises(NotAllowed, match="Writing a dispute off needs a manager"):
        services.dispute_resolve(actor=rui, dispute=dispute, outcome="written_off")
    assert not Allocation.objects.filter(invoice=invoice).exists()

    services.dispute_resolve(actor=manager, dispute=dispute, outcome="written_off", note="Goods lost")

    invoice.refresh_from_db()
    dispute.refresh_from_db()
    assert invoice.open_amount == Decimal("0.00")
    assert invoice.closed_on == TODAY
    assert (dispute.write_off.kind, dispute.write_off.amount, dispute.write_off.memo) == (
        AllocationKind.WRITE_OFF,
        Decimal("90.00"),
        f"Dispute {dispute.pk} (Damaged goods): Goods lost",
    )


@pytest.mark.parametrize("outcome", ["rejected", "customer_paid"])
def test_outcomes_that_write_nothing_to_the_ledger(books, manager, outcome):
    invoice = books.invoice(books.customer("NOTHING"), DUE, "90.00")
    dispute = services.dispute_open(actor=manager, invoice=invoice, reason="tax")
    with pytest.raises(DomainError, match="takes no amount"):
        services.dispute_resolve(actor=manager, dispute=dispute, outcome=outcome, amount="10")
    with pytest.raises(DomainError, match="'paid' is not an outcome"):
        services.dispute_resolve(actor=manager, dispute=dispute, outcome="paid")

    services.dispute_resolve(actor=manager, dispute=dispute, outcome=outcome)

    invoice.refresh_from_db()
    assert invoice.open_amount == Decimal("90.00")
    assert not Allocation.objects.exists()
    assert not CreditNote.objects.exists()


def test_a_resolution_cannot_predate_the_dispute_or_credit_more_than_is_open(books, manager):
    invoice = books.invoice(books.customer("DATES"), DUE, "100.00")
    dispute = services.dispute_open(actor=manager, invoice=invoice, reason="tax", opened_on=D(2026, 5, 1))
    with pytest.raises(DomainError, match=r"before it opened \(2026-05-01\)"):
        services.dispute_resolve(
            actor=manager, dispute=dispute, outcome="rejected", resolved_on=D(2026, 4, 30)
        )
    with pytest.raises(DomainError, match="in the future"):
        services.dispute_resolve(
            actor=manager, dispute=dispute, outcome="rejected", resolved_on=D(2026, 6, 2)
        )
    books.pay(invoice, "30.00", D(2026, 5, 10))  # paid in part while disputed
    with pytest.raises(DomainError, match=r"has only 70\.00 USD open"):
        services.dispute_resolve(actor=manager, dispute=dispute, outcome="credit_note")
    assert not CreditNote.objects.exists()
    services.dispute_resolve(actor=manager, dispute=dispute, outcome="credit_note", amount="70.00")
    invoice.refresh_from_db()
    assert invoice.open_amount == Decimal("0.00")


def test_roles(books, make_user, billing):
    other_team = Team.objects.create(name="Logistics")
    outsider = make_user(Role.RESOLVER, "olga")
    outsider.team = other_team
    outsider.save()
    rui = billing.members.get(username="rui")
    collector, viewer, manager = make_user(Role.COLLECTOR), make_user(Role.VIEWER), make_user(Role.MANAGER)
    invoice = books.invoice(books.customer("ROLES"), DUE, "100.00")

    for refused in (viewer, rui):
        with pytest.raises(NotAllowed, match="does not allow you to open"):
            services.dispute_open(actor=refused, invoice=invoice, reason="tax")
    dispute = services.dispute_open(actor=collector, invoice=invoice, reason="tax", team=billing)

    services.dispute_comment(actor=collector, dispute=dispute, body="Customer sent a photo")
    with pytest.raises(NotAllowed, match="assign"):
        services.dispute_assign(actor=collector, dispute=dispute, owner=rui)
    with pytest.raises(NotAllowed, match="resolve"):
        services.dispute_resolve(actor=collector, dispute=dispute, outcome="rejected")
    for action in (
        lambda: services.dispute_comment(actor=outsider, dispute=dispute, body="Not mine"),
        lambda: services.dispute_review(actor=outsider, dispute=dispute),
        lambda: services.dispute_comment(actor=viewer, dispute=dispute, body="Just looking"),
    ):
        with pytest.raises(NotAllowed):
            action()
    assert (services.can_see(outsider, dispute), services.can_see(rui, dispute)) == (False, True)
    assert services.can_see(viewer, dispute)  # a viewer reads every dispute

    services.dispute_review(actor=rui, dispute=dispute)
    services.dispute_resolve(actor=rui, dispute=dispute, outcome="customer_paid")
    assert list(dispute.comments.values_list("body", flat=True)) == ["Customer sent a photo"]
    assert Dispute.objects.get().status == DisputeStatus.RESOLVED
    with pytest.raises(DomainError, match=r"viewer-\d+ cannot own a dispute"):
        services.dispute_assign(
            actor=manager,
            dispute=services.dispute_open(
                actor=manager, invoice=books.invoice(invoice.customer, DUE), reason="tax"
            ),
            owner=viewer,
        )


def test_the_sla_check_escalates_each_late_dispute_once_to_the_teams_manager(books, manager, billing, smtp):
    rui = billing.members.get(username="rui")
    customer = books.customer("LATE")
    late = services.dispute_open(
        actor=manager,
        invoice=books.invoice(customer, DUE, external_id="L-1"),
        reason="duplicate_billing",
        owner=rui,
        opened_on=D(2026, 5, 20),
    )  # SLA: 5 days, to 2026-05-25
    unowned = services.dispute_open(
        actor=manager,
        invoice=books.invoice(customer, DUE, external_id="L-2"),
        reason="duplicate_billing",
        opened_on=D(2026, 5, 20),
    )
    services.dispute_open(
        actor=manager,
        invoice=books.invoice(customer, DUE, external_id="L-3"),
        reason="pricing",
        opened_on=D(2026, 5, 20),
    )  # 10 days, to 2026-05-30: not late on 2026-05-30

    assert services.disputes_check_sla(as_of=D(2026, 5, 25)) == 0  # the last day is still within the SLA
    assert services.disputes_check_sla(as_of=D(2026, 5, 30)) == 2
    assert services.disputes_check_sla(as_of=D(2026, 5, 31)) == 1  # L-3, now late; the others once only

    tasks = {t.title: t for t in Task.objects.filter(kind=TaskKind.ESCALATION)}
    assert sorted(tasks) == [
        "Dispute on L-1 is past its SLA (Duplicate billing, due 2026-05-25)",
        "Dispute on L-2 is past its SLA (Duplicate billing, due 2026-05-25)",
        "Dispute on L-3 is past its SLA (Pricing, due 2026-05-30)",
    ]
    first = tasks["Dispute on L-1 is past its SLA (Duplicate billing, due 2026-05-25)"]
    assert (first.owner, first.role, first.status, first.due_date) == (
        billing.manager,
        "",
        TaskStatus.OPEN,
        D(2026, 5, 30),
    )
    assert "owned by rui (Billing); 5 days past its SLA." in first.description
    second = tasks["Dispute on L-2 is past its SLA (Duplicate billing, due 2026-05-25)"]
    assert (second.owner, second.role) == (None, Role.MANAGER)  # no team: any manager
    late.refresh_from_db()
    unowned.refresh_from_db()
    assert (late.sla_breached_on, unowned.sla_breached_on) == (D(2026, 5, 30), D(2026, 5, 30))
    assert Event.objects.filter(verb="dispute.sla_breached").count() == 3


def test_documents_are_stored_under_a_safe_name_with_their_checked_kind(books, collector, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    dispute = services.dispute_open(
        actor=collector, invoice=books.invoice(books.customer("DOCS"), DUE), reason="damaged_goods"
    )
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

    document = services.dispute_attach(
        actor=collector, dispute=dispute, upload=SimpleUploadedFile("../../etc/Photo of crate (1).PDF", pdf)
    )

    assert (document.name, document.content_type, document.size) == (
        "Photo_of_crate_1.PDF",
        "application/pdf",
        len(pdf),
    )
    assert document.file.name == f"disputes/{dispute.pk}/{document.token}-Photo_of_crate_1.PDF"
    assert (tmp_path / document.file.name).read_bytes() == pdf
    assert document.sha256 == __import__("hashlib").sha256(pdf).hexdigest()
    note = services.dispute_attach(
        actor=collector,
        dispute=dispute,
        upload=SimpleUploadedFile("note.txt", "Crate 3 dented — ça arrive".encode()),
    )
    assert note.content_type == "text/plain"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("invoice.exe", b"MZ\x90\x00", "not a kind of file a dispute accepts"),
        ("page.html", b"<script>alert(1)</script>", "not a kind of file a dispute accepts"),
        ("logo.svg", b"<svg onload=alert(1)>", "not a kind of file a dispute accepts"),
        ("fake.pdf", b"<html>not a pdf</html>", "is not a .pdf file: its content is of another kind"),
        ("photo.png", b"\xff\xd8\xff\xe0JFIF", "is not a .png file"),
        ("notes.txt", b"abc\x00\x01\x02", "not a text file"),
        ("empty.pdf", b"", "is empty"),
        ("big.pdf", b"%PDF-" + b"x" * 2000, "is 2,005 bytes; a document is at most 1,000 bytes"),
    ],
)
def test_refused_documents_leave_nothing_behind(books, collector, settings, tmp_path, name, content, message):
    settings.MEDIA_ROOT = tmp_path
    settings.RECOUP_DISPUTE_UPLOAD_MAX_BYTES = 1000
    dispute = services.dispute_open(
        actor=collector, invoice=books.invoice(books.customer("NODOC"), DUE), reason="other"
    )
    with pytest.raises(DomainError, match=message) as refused:
        services.dispute_attach(actor=collector, dispute=dispute, upload=SimpleUploadedFile(name, content))
    assert refused.value.field == "file"
    assert not DisputeDocument.objects.exists()
    assert list(tmp_path.rglob("*.*")) == []


def test_safe_names():
    assert services.safe_name("C:\\Users\\me\\Desktop\\scan 01.pdf") == "scan_01.pdf"
    assert services.safe_name("..") == "document"
    assert services.safe_name(".hidden.txt") == "hidden.txt"
    assert services.safe_name("a" * 300 + ".pdf") == "a" * 116 + ".pdf"
    assert services.safe_name("<script>.pdf") == "script.pdf"


def test_reasons_are_configuration_for_managers(manager, collector, billing):
    reason = services.reason_save(
        actor=manager, code="late_delivery", name="Late delivery", sla_days=3, default_team=billing
    )
    assert (reason.code, reason.sla_days, reason.default_team) == ("late_delivery", 3, billing)
    with pytest.raises(NotAllowed):
        services.reason_save(actor=collector, code="x", name="X", sla_days=3)
    with pytest.raises(DomainError, match="exists already"):
        services.reason_save(actor=manager, code="pricing", name="Again", sla_days=3)
    with pytest.raises(DomainError, match="between 1 and 365"):
        services.reason_save(actor=manager, code="slow", name="Slow", sla_days=0)
    services.reason_save(
        actor=manager, reason=reason, code="late_delivery", name="Late", sla_days=4, is_active=False
    )
    with pytest.raises(DomainError, match="'late_delivery' is not a dispute reason"):
        services.reason_for("late_delivery")  # inactive: not for new disputes
    with pytest.raises(DomainError, match="no longer an active reason"):
        services.dispute_open(actor=manager, invoice=InvoiceFactory(), reason=reason)
    with pytest.raises(DomainError, match="at most 100 characters") as refused:
        services.reason_save(actor=manager, code="long", name="n" * 101, sla_days=3)
    assert refused.value.field == "name"
    with pytest.raises(DomainError, match="named 'pricing' exists already"):
        services.reason_save(actor=manager, code="pricing2", name="pricing", sla_days=3)
    assert DisputeReason.objects.filter(code__in=["x", "long", "pricing2"]).count() == 0
