"""`recoup import`: exact results, every bad row reported with nothing written, dry runs, re-imports."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from recoup.core.models import Event
from recoup.ledger.models import Allocation, Contact, CreditNote, Customer, Invoice, Payment

D = dt.date
DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.django_db


def run(*args: object) -> str:
    out = io.StringIO()
    call_command("import", *[str(a) for a in args], stdout=out, stderr=io.StringIO())
    return out.getvalue()


def fail(*args: object) -> tuple[str, list[str]]:
    err = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("import", *[str(a) for a in args], stdout=io.StringIO(), stderr=err)
    return str(raised.value), err.getvalue().splitlines()


def csv(tmp_path: Path, text: str, name: str = "file.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def ledger_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Customer, Contact, Invoice, Payment, CreditNote, Allocation, Event)
    }


@pytest.fixture
def ledger(collector: object) -> None:
    """The fixture files imported: customers C1–C3, invoices INV1–INV4."""
    run("customers", DATA / "customers.csv")
    run("invoices", DATA / "invoices.csv")


# Good files -------------------------------------------------------------------------------------------------


def test_customers_import_every_field_and_set_the_ap_contact(collector):
    summary = run("customers", DATA / "customers.csv")

    assert summary.startswith("customers: 3 rows, 3 created, 0 updated, 1 contacts set in ")
    c1, c2, c3 = Customer.objects.order_by("external_id")
    assert (
        c1.name,
        c1.currency,
        c1.payment_terms_days,
        c1.credit_limit,
        c1.collector,
        c1.timezone,
        c1.country,
        c1.language,
        c1.on_hold,
    ) == ("Acme Ltd", "USD", 30, Decimal("5000.00"), collector, "America/New_York", "US", "en", False)
    assert (c2.currency, c2.payment_terms_days, c2.credit_limit, c2.collector, c2.on_hold) == (
        "EUR",
        45,
        None,
        None,
        True,
    )
    # Empty optional cells take the model's defaults.
    assert (c3.currency, c3.payment_terms_days, c3.timezone, c3.country, c3.language, c3.on_hold) == (
        "JPY",
        30,
        "UTC",
        "",
        "en",
        False,
    )
    assert list(Contact.objects.values_list("customer__external_id", "email", "is_ap")) == [
        ("C1", "ap@acme.test", True)
    ]
    event = Event.objects.get()
    assert (event.verb, event.data["created"], event.data["contacts_created"]) == ("import.customers", 3, 1)


def test_a_customers_segment_is_imported_kept_when_empty_and_changed_when_given(tmp_path):
    run("customers", csv(tmp_path, "external_id,name,segment\nS1,Seg One,Enterprise\nS2,Seg Two,\n"))
    run("customers", csv(tmp_path, "external_id,name,segment\nS1,Seg One,\nS2,Seg Two,Retail\n"))

    assert list(Customer.objects.order_by("external_id").values_list("segment", flat=True)) == [
        "Enterprise",  # an empty cell keeps what is there
        "Retail",
    ]


def test_invoices_import_exactly_with_the_customer_currency_as_default(ledger):
    invoices = {i.external_id: i for i in Invoice.objects.select_related("customer")}

    assert {
        k: (
            i.customer.external_id,
            i.issue_date,
            i.due_date,
            i.amount,
            i.currency,
            i.open_amount,
            i.closed_on,
        )
        for k, i in invoices.items()
    } == {
        "INV1": ("C1", D(2026, 1, 5), D(2026, 2, 4), Decimal("100.00"), "USD", Decimal("100.00"), None),
        "INV2": ("C1", D(2026, 1, 20), D(2026, 2, 19), Decimal("250.50"), "USD", Decimal("250.50"), None),
        "INV3": ("C2", D(2026, 2, 1), D(2026, 3, 18), Decimal("80"), "EUR", Decimal("80"), None),
        "INV4": ("C3", D(2026, 2, 1), D(2026, 3, 3), Decimal("12000"), "JPY", Decimal("12000"), None),
    }
    assert list(Event.objects.order_by("id").values_list("verb", flat=True)) == [
        "import.customers",
        "import.invoices",
    ]


def test_payments_settle_the_invoices_they_name_and_keep_the_rest_as_credit(ledger):
    summary = run("payments", DATA / "payments.csv")

    assert summary.startswith("payments: 4 rows, 4 created, 0 updated, 3 allocations in ")
    assert {p.external_id: (p.amount, p.currency, p.unapplied_amount) for p in Payment.objects.all()} == {
        "P1": (Decimal("60.00"), "USD", Decimal("0")),
        "P2": (Decimal("60.00"), "USD", Decimal("20.00")),  # INV1 had only 40 left
        "P3": (Decimal("25.00"), "USD", Decimal("25.00")),
        "P4": (Decimal("80"), "EUR", Decimal("0")),
    }
    assert sorted(
        Allocation.objects.values_list(
            "payment__external_id", "invoice__external_id", "amount", "date", "kind"
        )
    ) == [
        ("P1", "INV1", Decimal("60.00"), D(2026, 2, 1), "payment"),
        ("P2", "INV1", Decimal("40.00"), D(2026, 2, 10), "payment"),
        ("P4", "INV3", Decimal("80"), D(2026, 3, 1), "payment"),
    ]
    assert {i.external_id: (i.open_amount, i.closed_on) for i in Invoice.objects.all()} == {
        "INV1": (Decimal("0"), D(2026, 2, 10)),
        "INV2": (Decimal("250.50"), None),
        "INV3": (Decimal("0"), D(2026, 3, 1)),
        "INV4": (Decimal("12000"), None),
    }
    assert Event.objects.filter(verb="import.payments").count() == 1


def test_credit_notes_apply_to_the_invoice_they_name(ledger, tmp_path):
    path = csv(
        tmp_path,
        "external_id,customer,date,amount,currency,invoice\n"
        "CN1,C1,2026-01-25,30.00,,INV2\n"
        "CN2,C2,2026-02-02,5,,\n",
    )
    run("credit-notes", path)

    assert {n.external_id: n.unapplied_amount for n in CreditNote.objects.all()} == {
        "CN1": Decimal("0"),
        "CN2": Decimal("5"),
    }
    allocation = Allocation.objects.select_related("credit_note").get()
    assert (
        allocation.kind,
        allocation.credit_note and allocation.credit_note.external_id,
        allocation.amount,
    ) == (
        "credit_note",
        "CN1",
        Decimal("30.00"),
    )
    assert Invoice.objects.get(external_id="INV2").open_amount == Decimal("220.50")


def test_oldest_first_applies_the_rest_of_a_payment_to_the_oldest_open_invoices(ledger, tmp_path, settings):
    settings.RECOUP_UNAPPLIED_CASH = "oldest_first"
    path = csv(
        tmp_path,
        "external_id,customer,date,amount,invoice\nP1,C1,2026-02-01,150.00,INV2\nP2,C1,2026-02-05,120.00,\n",
    )
    summary = run("payments", path)

    assert summary.startswith("payments: 2 rows, 2 created, 0 updated, 3 allocations in ")
    assert sorted(
        Allocation.objects.values_list("payment__external_id", "invoice__external_id", "amount")
    ) == [
        ("P1", "INV2", Decimal("150.00")),
        ("P2", "INV1", Decimal("100.00")),  # INV1 is due first
        ("P2", "INV2", Decimal("20.00")),
    ]
    assert {i.external_id: i.open_amount for i in Invoice.objects.filter(customer__external_id="C1")} == {
        "INV1": Decimal("0"),
        "INV2": Decimal("80.50"),
    }
    assert Payment.objects.get(external_id="P2").unapplied_amount == Decimal("0")


# Bad files --------------------------------------------------------------------------------------------------

BAD_INVOICES = """external_id,customer,issue_date,due_date,amount,currency
INV10,C1,2026-01-05,2026-02-04,100.00,USD
INV11,C9,2026-01-05,2026-02-04,100.00,USD
INV10,C1,2026-01-05,2026-02-04,100.00,USD
INV12,C1,2026-01-05,2026-02-30,100.00,USD
INV13,C1,2026-03-05,2026-02-04,100.00,USD
INV14,C1,2026-01-05,2026-02-04,-5.00,USD
INV15,C1,2026-01-05,2026-02-04,5.00,US
INV16,C3,2026-01-05,2026-02-04,12.5,
INV17,C1,2026-01-05,2026-02-04,1.234,USD
INV18,,2026-01-05,2026-02-04,1e3,USD
"""


def test_every_bad_row_is_reported_and_nothing_is_written(ledger, tmp_path):
    before = ledger_counts()
    message, lines = fail("invoices", csv(tmp_path, BAD_INVOICES))

    assert message.endswith("file.csv: 10 problem(s) in 9 row(s); nothing was imported")
    assert lines == [
        'line 3, column customer: unknown customer "C9"',
        'line 4, column external_id: duplicate external id "INV10" (first on line 2)',
        'line 5, column due_date: "2026-02-30" is not a date (expected YYYY-MM-DD)',
        "line 6, column due_date: due date 2026-02-04 is before issue date 2026-03-05",
        "line 7, column amount: -5.00 is not greater than zero",
        'line 8, column currency: "US" is not an ISO 4217 currency code',
        "line 9, column amount: 12.5 has more decimals than JPY allows (0), the currency of the customer",
        "line 10, column amount: 1.234 has more decimals than USD allows (2)",
        'line 11, column amount: "1e3" is not a plain decimal amount',
        "line 11, column customer: required value is empty",
    ]
    assert ledger_counts() == before


def test_a_missing_required_column_is_reported_once_up_front(ledger, tmp_path):
    before = ledger_counts()
    message, lines = fail(
        "invoices",
        csv(
            tmp_path, "external_id,customer,issue_date,amount\nINV9,C1,2026-01-01,5\nINV10,C1,2026-01-01,5\n"
        ),
    )

    assert "the header lacks" in message
    assert lines == ["line 1, column due_date: required column is missing (for due_date)"]
    assert ledger_counts() == before


def test_payments_naming_unknown_or_foreign_invoices_are_refused(ledger, tmp_path):
    before = ledger_counts()
    _, lines = fail(
        "payments",
        csv(
            tmp_path,
            "external_id,customer,date,amount,currency,invoice\n"
            "P1,C1,2026-02-01,10,,INV404\n"
            "P2,C1,2026-02-01,10,,INV3\n"
            "P3,C2,2026-02-01,10,USD,INV3\n"
            "P4,C1,2026-02-01,10,,INV1\n",
        ),
    )

    assert lines == [
        'line 2, column invoice: unknown invoice "INV404"',
        'line 3, column invoice: invoice "INV3" belongs to customer "C2", not "C1"',
        'line 4, column currency: invoice "INV3" is in EUR but this payment is in USD',
    ]
    assert ledger_counts() == before


def test_the_command_exits_non_zero_from_a_shell(tmp_path):
    path = csv(tmp_path, "external_id,name\n")
    # The header is checked before any query; the database is a throwaway SQLite file either way.
    env = {
        **os.environ,
        "RECOUP_INSECURE_DEFAULTS": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "recoup", "import", "invoices", str(path)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 1
    assert "line 1, column customer: required column is missing (for customer)" in result.stderr
    assert result.stdout == ""


# Dry runs and re-imports ------------------------------------------------------------------------------------


def test_dry_run_checks_against_the_ledger_and_writes_nothing(ledger, tmp_path):
    before = ledger_counts()
    summary = run("payments", DATA / "payments.csv", "--dry-run")

    assert summary.startswith("payments: 4 rows, 4 created, 0 updated, 3 allocations in ")
    assert summary.endswith("(dry run: nothing was written)\n")
    assert ledger_counts() == before
    _, lines = fail(
        "payments", csv(tmp_path, "external_id,customer,date,amount\nP1,C9,2026-01-01,1\n"), "--dry-run"
    )
    assert lines == ['line 2, column customer: unknown customer "C9"']


def test_reimporting_the_same_files_changes_nothing(ledger):
    run("payments", DATA / "payments.csv")
    before = ledger_counts()
    snapshot = list(
        Invoice.objects.values_list("external_id", "amount", "open_amount", "closed_on", "updated_at")
    )

    assert "0 created, 0 updated, 3 unchanged" in run("customers", DATA / "customers.csv")
    assert "0 created, 0 updated, 4 unchanged" in run("invoices", DATA / "invoices.csv")
    assert "0 created, 0 updated, 4 unchanged, 0 allocations" in run("payments", DATA / "payments.csv")
    assert ledger_counts() == {**before, "Event": before["Event"] + 3}
    assert (
        list(Invoice.objects.values_list("external_id", "amount", "open_amount", "closed_on", "updated_at"))
        == snapshot
    )


def test_a_changed_invoice_amount_recomputes_its_open_amount(ledger, tmp_path):
    run("payments", DATA / "payments.csv")  # INV1: 100.00, fully applied on 2026-02-10
    header = "external_id,customer,issue_date,due_date,amount\n"

    assert "0 created, 1 updated" in run(
        "invoices", csv(tmp_path, header + "INV1,C1,2026-01-05,2026-02-04,130\n")
    )
    invoice = Invoice.objects.get(external_id="INV1")
    assert (invoice.amount, invoice.open_amount, invoice.closed_on) == (Decimal("130"), Decimal("30"), None)

    run("invoices", csv(tmp_path, header + "INV1,C1,2026-01-05,2026-02-04,100\n"))
    invoice.refresh_from_db()
    assert (invoice.amount, invoice.open_amount, invoice.closed_on) == (
        Decimal("100"),
        Decimal("0"),
        D(2026, 2, 10),
    )

    before = ledger_counts()
    _, lines = fail("invoices", csv(tmp_path, header + "INV1,C1,2026-01-05,2026-02-04,99.99\n"))
    assert lines == [
        "line 2, column amount: 99.99 is below the 100.00 already applied to INV1; reverse allocations first"
    ]
    assert ledger_counts() == before


def test_a_payment_reimported_with_other_values_is_refused(ledger, tmp_path):
    run("payments", DATA / "payments.csv")
    before = ledger_counts()
    _, lines = fail(
        "payments",
        csv(
            tmp_path,
            "external_id,customer,date,amount,invoice\n"
            "P1,C1,2026-02-01,61.00,INV1\n"
            "P4,C2,2026-03-01,80,INV9\n"
            "P3,C1,2026-02-12,25.00,INV2\n",
        ),
    )

    assert lines == [
        'line 2, column amount: payment "P1" is already in the ledger with amount 60.00; ledger facts are '
        "never edited: reverse it and import it under a new external id",
        'line 3, column invoice: payment "P4" is already in the ledger with allocations to other invoices; '
        "ledger facts are never edited: reverse it and import it under a new external id",
        'line 3, column invoice: unknown invoice "INV9"',
    ]
    assert ledger_counts() == before
