"""`recoup demo`: realistic data that obeys every ledger invariant, repeatable, never on top of data."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Max, Min, Q, Sum

from recoup.core.errors import DomainError
from recoup.core.models import Event
from recoup.ledger.aging import aging_report
from recoup.ledger.demo import DEFAULT_CUSTOMERS, demo_seed
from recoup.ledger.models import Allocation, Contact, CreditNote, Customer, FxRate, Invoice, Payment
from recoup.ledger.selectors import invoice_open_amount_as_of
from recoup.ledger.tests.factories import CustomerFactory
from recoup.users.models import Role, User

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 6, 30)
NOON_TODAY = dt.datetime(2026, 6, 30, 12, tzinfo=dt.UTC)
LEDGER = (Customer, Contact, Invoice, Payment, CreditNote, Allocation, FxRate)


def ledger_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in LEDGER}


def fingerprint() -> list[tuple[object, ...]]:
    """Everything that makes two demo ledgers the same, without primary keys or timestamps."""
    return [
        *Customer.objects.order_by("external_id").values_list(
            "external_id", "name", "currency", "country", "collector__username", "on_hold", "do_not_dun"
        ),
        *Invoice.objects.order_by("external_id").values_list(
            "external_id",
            "customer__external_id",
            "issue_date",
            "due_date",
            "amount",
            "open_amount",
            "closed_on",
        ),
        *Payment.objects.order_by("external_id").values_list(
            "external_id", "date", "amount", "unapplied_amount"
        ),
        *CreditNote.objects.order_by("external_id").values_list(
            "external_id", "date", "amount", "unapplied_amount"
        ),
        *Allocation.objects.order_by("invoice__external_id", "date", "kind", "amount").values_list(
            "invoice__external_id",
            "kind",
            "payment__external_id",
            "credit_note__external_id",
            "amount",
            "date",
        ),
        *FxRate.objects.order_by("currency", "date").values_list("currency", "date", "rate"),
    ]


def test_small_demo_obeys_every_ledger_invariant():
    result = demo_seed(actor=None, seed=7, today=TODAY, customers=40)

    assert result.counts == {
        "customers": 40,
        "contacts": 75,
        "invoices": 1400,
        "payments": 1142,
        "credit_notes": 43,
        "allocations": 1395,
        "write_offs": 26,
        "reversals": 1,
        "fx_rates": 1054,
        "users": 7,
    }
    assert ledger_counts() == {
        "Customer": 40,
        "Contact": 75,
        "Invoice": 1400,
        "Payment": 1142,
        "CreditNote": 43,
        "Allocation": 1395,
        "FxRate": 1054,
    }
    # Two years up to today, three currencies, and an FX rate for every day of it.
    issued = Invoice.objects.aggregate(first=Min("issue_date"), last=Max("issue_date"))
    assert TODAY - dt.timedelta(days=730) <= issued["first"] < issued["last"] <= TODAY
    assert set(Invoice.objects.values_list("currency", flat=True)) == {"USD", "EUR", "GBP"}
    for currency in ("EUR", "GBP"):
        rates = FxRate.objects.filter(currency=currency)
        assert rates.filter(date__lte=issued["first"]).exists()
        assert rates.latest("date").date >= TODAY - dt.timedelta(days=3)
    assert not FxRate.objects.filter(currency="USD").exists()

    # Every allocation matches its invoice and source: customer, currency, and never dated before the source.
    for allocation in Allocation.objects.select_related("invoice", "payment", "credit_note"):
        source = allocation.payment or allocation.credit_note
        assert allocation.currency == allocation.invoice.currency
        assert allocation.date >= allocation.invoice.issue_date
        assert allocation.date <= TODAY
        if source is not None:
            assert (source.customer_id, source.currency) == (
                allocation.invoice.customer_id,
                allocation.currency,
            )
            assert allocation.date >= source.date

    # Replay the allocations date by date: no invoice or source is ever over-settled or below zero.
    running: dict[tuple[str, int], list[tuple[dt.date, Decimal, Decimal]]] = defaultdict(list)
    for allocation in Allocation.objects.select_related("invoice", "payment", "credit_note").order_by("date"):
        running[("invoice", allocation.invoice_id)].append(
            (allocation.date, allocation.amount, allocation.invoice.amount)
        )
        source = allocation.payment or allocation.credit_note
        if source is not None:
            running[(type(source).__name__, source.pk)].append(
                (allocation.date, allocation.amount, source.amount)
            )
    for rows in running.values():
        total = Decimal(0)
        by_date: dict[dt.date, Decimal] = defaultdict(Decimal)
        for date, amount, _ in rows:
            by_date[date] += amount
        for date in sorted(by_date):
            total += by_date[date]
            assert Decimal(0) <= total <= rows[0][2]

    # The kept balances agree with the allocations.
    applied = dict(Allocation.objects.values("invoice").annotate(t=Sum("amount")).values_list("invoice", "t"))
    for pk, amount, open_amount, closed_on in Invoice.objects.values_list(
        "pk", "amount", "open_amount", "closed_on"
    ):
        assert open_amount == amount - applied.get(pk, Decimal(0))
        assert (closed_on is None) == (open_amount > 0)


def test_small_demo_has_the_mixture_a_collector_meets():
    demo_seed(actor=None, seed=7, today=TODAY, customers=40)

    partly_paid = Invoice.objects.filter(open_amount__gt=0).exclude(open_amount=F("amount"))
    assert partly_paid.exists()
    assert Invoice.objects.filter(open_amount=0).count() > Invoice.objects.filter(open_amount__gt=0).count()
    # Overpayments: payments applied to invoices with cash left over.
    assert Payment.objects.filter(unapplied_amount__gt=0, allocations__isnull=False).exists()
    # Payments on account name no invoice at all.
    assert Payment.objects.filter(allocations__isnull=True, reference="Payment on account").exists()
    # Credit notes, some applied and some left as customer credit.
    assert CreditNote.objects.filter(unapplied_amount=0).exists()
    assert CreditNote.objects.filter(unapplied_amount=F("amount")).exists()
    assert Allocation.objects.filter(kind="write_off").count() == 26
    # A payment applied to the wrong invoice, reversed, and moved: the original row stays untouched.
    reversal = Allocation.objects.get(reverses__isnull=False)
    original = reversal.reverses
    assert original is not None
    assert reversal.amount == -original.amount
    assert reversal.memo == f"Applied to {original.invoice.external_id} in error"
    moved = Allocation.objects.get(payment=original.payment, reverses__isnull=True, date=reversal.date)
    assert moved.amount == original.amount
    assert moved.invoice_id != original.invoice_id
    assert invoice_open_amount_as_of(invoice=original.invoice, as_of=original.date) == (
        original.invoice.amount - original.amount
    )
    assert invoice_open_amount_as_of(invoice=original.invoice, as_of=reversal.date) == original.invoice.amount
    # Customers pay in different ways: prompt payers close nearly everything, others leave a long tail.
    paid_share = {
        c.pk: c.closed / c.total
        for c in Customer.objects.annotate(
            total=Count("invoices"), closed=Count("invoices", filter=Q(invoices__open_amount=0))
        )
    }
    assert min(paid_share.values()) < Decimal("0.6") < Decimal("0.95") < max(paid_share.values())
    # Every customer has an AP contact with an email address; most have a collector.
    assert (
        Customer.objects.filter(contacts__is_ap=True, contacts__email__startswith="ap@").distinct().count()
        == 40
    )
    assert Customer.objects.filter(collector__role=Role.COLLECTOR).count() >= 30


def test_demo_users_one_per_role_with_working_passwords():
    result = demo_seed(actor=None, seed=7, today=TODAY, customers=5)

    assert [(login.username, login.role, login.password) for login in result.logins] == [
        ("admin", "admin", "demo-admin"),
        ("manager", "manager", "demo-manager"),
        ("collector", "collector", "demo-collector"),
        ("collector2", "collector", "demo-collector2"),
        ("resolver", "resolver", "demo-resolver"),
        ("resolver2", "resolver", "demo-resolver2"),
        ("viewer", "viewer", "demo-viewer"),
    ]
    assert set(User.objects.values_list("role", flat=True)) == set(Role.values)
    for login in result.logins:
        assert User.objects.get(username=login.username).check_password(login.password)
    admin, viewer = User.objects.get(username="admin"), User.objects.get(username="viewer")
    assert (admin.is_staff, admin.is_superuser) == (True, True)
    assert (viewer.is_staff, viewer.is_superuser) == (False, False)
    assert not User.objects.filter(is_superuser=True).exclude(username="admin").exists()


def test_an_existing_user_keeps_its_password(make_user):
    make_user(Role.MANAGER, "admin")  # someone called admin was there first

    result = demo_seed(actor=None, seed=7, today=TODAY, customers=5)

    assert (result.logins[0].username, result.logins[0].role, result.logins[0].password) == (
        "admin",
        "manager",
        None,
    )
    admin = User.objects.get(username="admin")
    assert admin.check_password("pw-admin")
    assert not admin.check_password("demo-admin")
    assert admin.role == Role.MANAGER


def test_same_seed_same_ledger_and_another_seed_another():
    demo_seed(actor=None, seed=3, today=TODAY, customers=12)
    first = fingerprint()
    with time_machine.travel(NOON_TODAY, tick=False):
        call_command("demo", "--reset", "--seed", "3", "--customers", "12", stdout=StringIO())
    assert fingerprint() == first
    with time_machine.travel(NOON_TODAY, tick=False):
        call_command("demo", "--reset", "--seed", "4", "--customers", "12", stdout=StringIO())
    assert fingerprint() != first


def test_command_seeds_records_one_event_and_prints_the_logins():
    out = StringIO()
    with time_machine.travel(NOON_TODAY, tick=False):
        call_command("demo", "--seed", "7", "--customers", "40", stdout=out)

    text = out.getvalue()
    assert "(seed 7, up to 2026-06-30)" in text
    assert "  invoices         1,400\n" in text
    assert "  admin      admin        demo-admin\n" in text
    assert "  viewer     viewer       demo-viewer\n" in text
    event = Event.objects.get(verb="demo.seeded")
    assert event.actor is None
    assert event.data == {
        "seed": 7,
        "today": "2026-06-30",
        "customers": 40,
        "contacts": 75,
        "invoices": 1400,
        "payments": 1142,
        "credit_notes": 43,
        "allocations": 1395,
        "write_offs": 26,
        "reversals": 1,
        "fx_rates": 1054,
        "users": 7,
    }
    assert Event.objects.count() == 1


def test_command_refuses_a_non_empty_ledger_and_changes_nothing():
    CustomerFactory(external_id="REAL-1")
    before = ledger_counts()

    with pytest.raises(CommandError, match="already holds data"):
        call_command("demo", "--customers", "5", stdout=StringIO())

    assert ledger_counts() == before
    assert not User.objects.exists()
    assert not Event.objects.exists()


def test_if_empty_leaves_a_seeded_ledger_alone_and_prints_the_logins():
    with time_machine.travel(NOON_TODAY, tick=False):
        call_command("demo", "--seed", "7", "--customers", "5", stdout=StringIO())
    before = fingerprint()
    out = StringIO()

    call_command("demo", "--if-empty", "--customers", "5", stdout=out)

    assert fingerprint() == before
    assert out.getvalue().startswith("The ledger already holds data; left as it is.\n")
    assert "  manager    manager      demo-manager\n" in out.getvalue()
    assert Event.objects.filter(verb="demo.seeded").count() == 1


def test_reset_deletes_reversals_first_and_replaces_the_data():
    with time_machine.travel(NOON_TODAY, tick=False):
        call_command("demo", "--seed", "7", "--customers", "40", stdout=StringIO())
        assert Allocation.objects.filter(reverses__isnull=False).exists()
        out = StringIO()
        call_command("demo", "--reset", "--seed", "7", "--customers", "40", stdout=out)

    assert out.getvalue().startswith(
        "Deleted 1395 allocations, 1142 payments, 43 credit notes, 1400 invoices, "
        "75 contacts, 40 customers, 1054 fx rates\n"
    )
    assert ledger_counts()["Invoice"] == 1400
    assert User.objects.count() == 7
    assert list(Event.objects.order_by("id").values_list("verb", flat=True)) == [
        "demo.seeded",
        "ledger.reset",
        "demo.seeded",
    ]


def test_default_size_meets_the_demo_brief():
    with time_machine.travel(NOON_TODAY, tick=False):
        call_command("demo", stdout=StringIO())

    assert Customer.objects.count() == DEFAULT_CUSTOMERS >= 300
    assert Invoice.objects.count() >= 10_000
    assert Invoice.objects.filter(issue_date__lt=TODAY - dt.timedelta(days=700)).exists()
    assert dict(
        Customer.objects.values("currency").annotate(n=Count("id")).values_list("currency", "n")
    ).keys() == {"USD", "EUR", "GBP"}
    assert Allocation.objects.filter(reverses__isnull=False).count() >= 2
    assert Allocation.objects.filter(kind="write_off").count() >= 10


def test_another_base_currency_gets_rates_for_the_other_two(settings):
    settings.BASE_CURRENCY = "EUR"

    demo_seed(actor=None, seed=7, today=TODAY, customers=40)

    assert set(FxRate.objects.values_list("currency", flat=True)) == {"USD", "GBP"}
    usd, gbp = (FxRate.objects.get(currency=c, date=dt.date(2026, 6, 29)).rate for c in ("USD", "GBP"))
    assert Decimal("0.5") < usd < Decimal("1.5")
    assert gbp > usd  # a pound is worth more euros than a dollar is
    report = aging_report(as_of=TODAY, by="total")
    assert report.currency == "EUR"
    assert [rate.currency for rate in report.rates] == ["GBP", "USD"]
    assert report.total.total == sum(report.total.buckets, Decimal(0)) > 0


def test_a_base_currency_the_demo_does_not_use_is_refused_and_nothing_is_written(settings):
    settings.BASE_CURRENCY = "JPY"

    with pytest.raises(DomainError, match="set BASE_CURRENCY to one of them, not JPY"):
        demo_seed(actor=None, seed=7, today=TODAY, customers=5)

    assert ledger_counts() == dict.fromkeys(ledger_counts(), 0)
    assert not User.objects.exists()
    assert not Event.objects.exists()
