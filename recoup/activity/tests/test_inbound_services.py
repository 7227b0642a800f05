"""What people do with an inbound email: assign it to a customer (and invoices), or ignore it. Each write is
checked, lands on (or leaves) the timeline, and is recorded; a refusal changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from recoup.activity.models import EntryKind, InboundStatus, MatchedBy, TimelineEntry
from recoup.activity.services import inbound_assign, inbound_ignore, inbound_timeline_add
from recoup.core.errors import DomainError, NotAllowed
from recoup.core.models import Event
from recoup.users.models import Role

pytestmark = pytest.mark.django_db
DUE = dt.date(2026, 3, 2)


def entries(email) -> list[tuple[int, str, str, list[str]]]:
    rows = TimelineEntry.objects.filter(source_type="activity.inboundemail", source_id=str(email.pk))
    return [(e.customer_id, e.kind, e.status, [i.external_id for i in e.invoices.all()]) for e in rows]


def test_a_collector_assigns_an_unmatched_email_to_a_customer_and_its_invoices(
    books, make_inbound, collector
):
    acme = books.customer("ACME")
    first, second = books.invoice(acme, DUE, external_id="A-1"), books.invoice(acme, DUE, external_id="A-2")
    email = make_inbound(
        subject="Payment plan",
        from_name="Pat",
        body_text="Can we pay in two parts?",
        sent_at=dt.datetime(2026, 3, 5, 8, 0, tzinfo=dt.UTC),
    )

    assigned = inbound_assign(actor=collector, email=email, customer=acme, invoices=[second, first])

    email.refresh_from_db()
    assert (email.status, email.matched_by, email.customer_id, email.assigned_by_id) == (
        InboundStatus.ASSIGNED,
        MatchedBy.MANUAL,
        acme.pk,
        collector.pk,
    )
    assert email.assigned_at is not None and assigned.pk == email.pk
    assert sorted(i.external_id for i in email.invoices.all()) == ["A-1", "A-2"]
    assert entries(email) == [(acme.pk, EntryKind.EMAIL_IN, "received", ["A-1", "A-2"])]
    entry = TimelineEntry.objects.get(kind=EntryKind.EMAIL_IN)
    assert (entry.title, entry.body, entry.actor_id, entry.occurred_at) == (
        "Email from Pat: Payment plan",
        "Can we pay in two parts?",
        collector.pk,
        dt.datetime(2026, 3, 5, 8, 0, tzinfo=dt.UTC),
    )
    event = Event.objects.get(verb="inbound.assigned")
    assert (event.actor_id, event.target_id, event.data) == (
        collector.pk,
        str(email.pk),
        {
            "from_status": "unmatched",
            "from_customer": None,
            "customer": acme.pk,
            "invoices": [first.pk, second.pk],
        },
    )


def test_reassigning_a_matched_email_moves_it_to_the_other_timeline(books, make_inbound, manager):
    acme, globex = books.customer("ACME"), books.customer("GLOBEX")
    email = make_inbound(customer=acme, matched_by=MatchedBy.DOMAIN, is_auto_reply=True)
    inbound_timeline_add(email=email, actor=None)  # as the poller filed it
    assert entries(email) == [(acme.pk, EntryKind.EMAIL_IN, "auto_reply", [])]

    inbound_assign(actor=manager, email=email, customer=globex)

    assert entries(email) == [(globex.pk, EntryKind.EMAIL_IN, "auto_reply", [])]
    assert Event.objects.filter(verb="inbound.assigned").first().data["from_customer"] == acme.pk


def test_an_invoice_of_another_customer_is_refused_and_nothing_changes(books, make_inbound, collector):
    acme, globex = books.customer("ACME"), books.customer("GLOBEX")
    theirs = books.invoice(globex, DUE, external_id="G-1")
    email = make_inbound()

    with pytest.raises(DomainError, match=r"^G-1 is not ACME Ltd's\.$") as refused:
        inbound_assign(actor=collector, email=email, customer=acme, invoices=[theirs])

    assert refused.value.field == "invoices"
    email.refresh_from_db()
    assert (email.status, email.customer_id, email.assigned_by_id) == (InboundStatus.UNMATCHED, None, None)
    assert not TimelineEntry.objects.exists() and not Event.objects.filter(verb="inbound.assigned").exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.RESOLVER])
def test_viewers_and_resolvers_may_neither_assign_nor_ignore(books, make_inbound, make_user, role):
    acme = books.customer("ACME")
    email = make_inbound()
    user = make_user(role)

    with pytest.raises(NotAllowed):
        inbound_assign(actor=user, email=email, customer=acme)
    with pytest.raises(NotAllowed):
        inbound_ignore(actor=user, email=email)

    email.refresh_from_db()
    assert (email.status, email.customer_id) == (InboundStatus.UNMATCHED, None)
    assert (
        not TimelineEntry.objects.exists() and not Event.objects.filter(verb__startswith="inbound.").exists()
    )


def test_ignoring_takes_an_email_out_of_the_queue_and_off_its_timeline(books, make_inbound, collector):
    acme = books.customer("ACME")
    invoice = books.invoice(acme, DUE, external_id="A-1")
    email = make_inbound(subject="Newsletter")
    inbound_assign(actor=None, email=email, customer=acme, invoices=[invoice])

    inbound_ignore(actor=collector, email=email)

    email.refresh_from_db()
    assert (email.status, email.customer_id, email.matched_by, email.assigned_by_id) == (
        InboundStatus.IGNORED,
        None,
        "",
        collector.pk,
    )
    assert list(email.invoices.all()) == [] and entries(email) == []
    assert Event.objects.get(verb="inbound.ignored").data == {
        "from_status": "assigned",
        "from_customer": acme.pk,
    }
    with pytest.raises(DomainError, match=r"^This email is ignored already\.$"):
        inbound_ignore(actor=collector, email=email)
    assert Event.objects.filter(verb="inbound.ignored").count() == 1
