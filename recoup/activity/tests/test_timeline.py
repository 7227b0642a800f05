"""The merged timeline: stored entries with the ledger's payments and credit notes, newest first, filtered by
kind and invoice, keyset-paged without gaps or repeats (ties included), in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from recoup.activity.models import EntryKind
from recoup.activity.selectors import customer_activity
from recoup.activity.services import note_add, timeline_add
from recoup.activity.timeline import Cursor, InvoiceRef, day_start, kinds_of_groups
from recoup.core.errors import DomainError
from recoup.ledger import services as ledger
from recoup.ledger.models import Allocation

pytestmark = pytest.mark.django_db
D = dt.date


def at(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, 0, tzinfo=dt.UTC)


@pytest.fixture
def story(books, settings):
    """Acme's history over four days (TIME_ZONE UTC, so a payment dated 3 March stands at 00:00 UTC)."""
    settings.TIME_ZONE = "UTC"
    acme = books.customer("ACME", name="Acme")
    a1 = books.invoice(acme, D(2026, 2, 1), "300.00", external_id="A-1")
    a2 = books.invoice(acme, D(2026, 2, 10), "200.00", external_id="A-2")
    other = books.customer("OTHER")
    books.invoice(other, D(2026, 2, 1), external_id="O-1")
    timeline_add(customer=other, kind=EntryKind.NOTE, title="Someone else's", occurred_at=at(3, 12))
    timeline_add(
        customer=acme,
        kind=EntryKind.EMAIL_OUT,
        title="Email: reminder",
        occurred_at=at(2, 9),
        invoices=[a1.pk, a2.pk],
    )
    timeline_add(
        customer=acme, kind=EntryKind.CALL, title="Call: reached", occurred_at=at(3, 15), invoices=[a1.pk]
    )
    timeline_add(
        customer=acme, kind=EntryKind.NOTE, title="Midnight note", occurred_at=day_start(D(2026, 3, 4))
    )
    pay = ledger.payment_create(
        actor=None,
        customer=acme,
        external_id="PAY-1",
        date=D(2026, 3, 4),
        amount=Decimal("250.00"),
        reference="Wire 881",
        apply_to=[ledger.Application(a1, Decimal("200.00")), ledger.Application(a2, Decimal("50.00"))],
    )
    ledger.credit_note_create(
        actor=None,
        customer=acme,
        external_id="CN-1",
        date=D(2026, 3, 4),
        amount=Decimal("20.00"),
        reason="Damaged pallet",
        apply_to=[ledger.Application(a2, Decimal("20.00"))],
    )
    ledger.payment_create(
        actor=None, customer=acme, external_id="PAY-0", date=D(2026, 3, 1), amount=Decimal("5.00")
    )
    to_a2 = Allocation.objects.get(payment=pay, invoice=a2)
    ledger.allocation_reverse(actor=None, allocation=to_a2, date=D(2026, 3, 5))
    timeline_add(
        customer=acme, kind=EntryKind.PROMISE, title="Promise kept", occurred_at=at(5, 10), invoices=[a1.pk]
    )
    return {"acme": acme, "a1": a1, "a2": a2}


def shown(page) -> list[tuple[str, str, str]]:
    return [(item.kind, item.title, ",".join(ref.number for ref in item.invoices)) for item in page.items]


EVERYTHING = [
    ("promise", "Promise kept", "A-1"),
    ("note", "Midnight note", ""),  # at 4 March 00:00, the same instant as the ledger documents of that day
    ("payment", "Payment PAY-1: Wire 881", "A-1,A-2"),
    ("credit_note", "Credit note CN-1: Damaged pallet", "A-2"),
    ("call", "Call: reached", "A-1"),
    ("email_out", "Email: reminder", "A-1,A-2"),
    ("payment", "Payment PAY-0", ""),
]


def test_entries_and_ledger_documents_merge_newest_first_with_their_invoices(story):
    page = customer_activity(customer=story["acme"])

    assert shown(page) == EVERYTHING and page.next_cursor is None
    payment = page.items[2]
    assert (payment.on_date, payment.occurred_at, payment.amount, payment.currency, payment.status) == (
        D(2026, 3, 4),
        at(4, 0),
        Decimal("250.00"),
        "USD",
        "",
    )
    assert payment.invoices == [
        InvoiceRef(story["a1"].pk, "A-1", Decimal("200.00"), "USD", None),
        InvoiceRef(story["a2"].pk, "A-2", Decimal("50.00"), "USD", D(2026, 3, 5)),  # reversed on 5 March
    ]
    assert (payment.source_type, payment.source_pk) == ("ledger.payment", payment.source_pk)
    assert page.items[-1].status == "unapplied"


def test_kind_and_invoice_filters(story):
    acme, a2 = story["acme"], story["a2"]

    assert shown(customer_activity(customer=acme, kinds={"payment", "credit_note"})) == [
        EVERYTHING[2],
        EVERYTHING[3],
        EVERYTHING[6],
    ]
    assert (
        shown(customer_activity(customer=acme, kinds=kinds_of_groups(["email", "call"]))) == EVERYTHING[4:6]
    )
    assert shown(customer_activity(customer=acme, invoice=a2)) == [
        EVERYTHING[2],
        EVERYTHING[3],
        EVERYTHING[5],
    ]
    assert shown(customer_activity(customer=acme, kinds={"note"}, invoice=a2)) == []
    with pytest.raises(DomainError, match="Unknown kind 'tweet'") as unknown:
        customer_activity(customer=acme, kinds={"tweet"})
    assert unknown.value.field == "kind"
    with pytest.raises(DomainError, match="Unknown kind 'tweets'") as group:
        kinds_of_groups(["tweets"])
    assert group.value.field == "kind"


@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_pages_follow_on_without_gaps_or_repeats_even_at_ties(story, size):
    seen, cursor, pages = [], None, 0
    while True:
        page = customer_activity(customer=story["acme"], limit=size, before=cursor)
        seen += shown(page)
        pages += 1
        assert len(page.items) <= size
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == EVERYTHING
    assert pages == -(-len(EVERYTHING) // size)


def test_a_cursor_that_is_not_one_is_refused(story):
    for text in ("nonsense", "2026-03-04T00:00:00~2~1", "2026-03-04T00:00:00+00:00~7~1", "x~1~1"):
        with pytest.raises(DomainError, match="not a timeline position") as refused:
            customer_activity(customer=story["acme"], before=text)
        assert refused.value.field == "before"
    assert str(Cursor(at(4, 0), 1, 9)) == "2026-03-04T00:00:00+00:00~1~9"


def test_a_page_costs_the_same_queries_however_long_the_history(story, django_assert_num_queries):
    acme, a1 = story["acme"], story["a1"]
    with django_assert_num_queries(6):  # entries + their invoices, payments + allocations, credit notes + ...
        small = customer_activity(customer=acme, limit=50)
    for n in range(30):
        note_add(actor=None, customer=acme, body=f"note {n}", invoices=[a1])
        ledger.payment_create(
            actor=None,
            customer=acme,
            external_id=f"P-{n}",
            date=D(2026, 3, 6),
            amount=Decimal("1.00"),
            apply_to=[ledger.Application(a1, Decimal("1.00"))],
        )
    with django_assert_num_queries(6):
        big = customer_activity(customer=acme, limit=50)
    assert (len(small.items), len(big.items)) == (7, 50)
    with django_assert_num_queries(2):  # one source only: entries and their invoices
        customer_activity(customer=acme, kinds={"note"})


def test_the_ledger_day_follows_time_zone(books, settings):
    settings.TIME_ZONE = "Pacific/Auckland"
    acme = books.customer("NZ")
    ledger.payment_create(
        actor=None, customer=acme, external_id="P-NZ", date=D(2026, 7, 1), amount=Decimal("9.00")
    )
    with time_machine.travel(dt.datetime(2026, 7, 1, 1, 0, tzinfo=dt.UTC)):
        timeline_add(
            customer=acme,
            kind=EntryKind.NOTE,
            title="Before",
            occurred_at=dt.datetime(2026, 6, 30, 11, 59, tzinfo=dt.UTC),
        )
        timeline_add(
            customer=acme,
            kind=EntryKind.NOTE,
            title="After",
            occurred_at=dt.datetime(2026, 6, 30, 12, 1, tzinfo=dt.UTC),
        )

    page = customer_activity(customer=acme)

    # Midnight of 1 July in Auckland (UTC+12) is 12:00 UTC on 30 June.
    assert [item.title for item in page.items] == ["After", "Payment P-NZ", "Before"]
    assert page.items[1].occurred_at == dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC)
