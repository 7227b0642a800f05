"""Imports through mapping files, from XLSX, of the IBM sample, and PostgreSQL's bulk-load path."""

from __future__ import annotations

import datetime as dt
import io
import os
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from recoup.core.models import Event
from recoup.ledger.imports import staging
from recoup.ledger.models import Allocation, Contact, Customer, Invoice, Payment
from recoup.ledger.tests.factories import CustomerFactory

D = dt.date
REPO = Path(__file__).resolve().parents[3]
IBM_DIR = REPO.parent / "shared" / "data" / "ibm_ar"
IBM_CSV = IBM_DIR / "WA_Fn-UseC_-Accounts-Receivable.csv"
IBM_MAPPINGS = REPO / "docs" / "examples" / "ibm_ar"
pytestmark = pytest.mark.django_db


def run(*args: object) -> str:
    out = io.StringIO()
    call_command("import", *[str(a) for a in args], stdout=out, stderr=io.StringIO())
    return out.getvalue()


def fail(*args: object) -> list[str]:
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import", *[str(a) for a in args], stdout=io.StringIO(), stderr=err)
    return err.getvalue().splitlines()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


INVOICE_EXPORT = """Customer No,Invoice Number,Invoice Date,Due,Total,Settled On
0042,000123,1/2/2026,2/1/2026,55.94,1/15/2026
0042,000124,1/26/2026,2/25/2026,61.74,
0043,000125,7/3/2026,8/2/2026,65.88,7/8/2026
"""


def test_a_mapping_derives_payments_from_an_invoice_export(tmp_path):
    CustomerFactory(external_id="0042")
    CustomerFactory(external_id="0043")
    export = write(tmp_path, "export.csv", INVOICE_EXPORT)
    run(
        "invoices",
        export,
        "--mapping",
        write(
            tmp_path,
            "invoices.toml",
            """
        kind = "invoices"
        [columns]
        external_id = "Invoice Number"
        customer = "Customer No"
        issue_date = "Invoice Date"
        due_date = "Due"
        amount = "Total"
        [formats]
        issue_date = "%m/%d/%Y"
        due_date = "%m/%d/%Y"
        [constants]
        currency = "USD"
    """,
        ),
    )
    summary = run(
        "payments",
        export,
        "--mapping",
        write(
            tmp_path,
            "payments.toml",
            """
        skip_if_empty = ["Settled On"]
        [columns]
        customer = "Customer No"
        invoice = "Invoice Number"
        date = "Settled On"
        amount = "Total"
        [formats]
        date = "%m/%d/%Y"
        [templates]
        external_id = "PAY-{Invoice Number}"
    """,
        ),
    )

    assert summary.startswith("payments: 3 rows, 2 created, 0 updated, 1 skipped, 2 allocations in ")
    assert sorted(Payment.objects.values_list("external_id", "date", "amount", "unapplied_amount")) == [
        ("PAY-000123", D(2026, 1, 15), Decimal("55.94"), Decimal("0")),
        ("PAY-000125", D(2026, 7, 8), Decimal("65.88"), Decimal("0")),
    ]
    assert {
        i.external_id: (i.issue_date, i.due_date, i.open_amount, i.closed_on) for i in Invoice.objects.all()
    } == {
        "000123": (D(2026, 1, 2), D(2026, 2, 1), Decimal("0"), D(2026, 1, 15)),
        "000124": (D(2026, 1, 26), D(2026, 2, 25), Decimal("61.74"), None),
        "000125": (D(2026, 7, 3), D(2026, 8, 2), Decimal("0"), D(2026, 7, 8)),
    }


def test_a_mapping_reports_dates_in_the_wrong_format_with_the_source_column(tmp_path):
    CustomerFactory(external_id="0042")
    mapping = write(
        tmp_path,
        "m.toml",
        '[columns]\nexternal_id = "Invoice Number"\ncustomer = "Customer No"\n'
        'issue_date = "Invoice Date"\ndue_date = "Due"\namount = "Total"\n'
        '[formats]\nissue_date = "%m/%d/%Y"\n',
    )
    lines = fail(
        "invoices", write(tmp_path, "e.csv", INVOICE_EXPORT.replace("0043", "0042")), "--mapping", mapping
    )

    assert lines == [
        f'line {n}, column Due: "{due}" is not a date (expected YYYY-MM-DD)'
        for n, due in ((2, "2/1/2026"), (3, "2/25/2026"), (4, "8/2/2026"))
    ]
    assert Invoice.objects.count() == 0


def test_a_broken_mapping_is_refused_before_reading_any_row(tmp_path):
    mapping = write(tmp_path, "m.toml", '[columns]\ninvoice_number = "X"\n')
    err = io.StringIO()
    with pytest.raises(CommandError, match="names 'invoice_number', which is not a invoices field"):
        call_command(
            "import",
            "invoices",
            str(write(tmp_path, "e.csv", INVOICE_EXPORT)),
            "--mapping",
            str(mapping),
            stdout=io.StringIO(),
            stderr=err,
        )
    assert err.getvalue() == ""


def test_distinct_customers_keep_one_of_identical_repeats_and_refuse_conflicting_ones(tmp_path):
    mapping = write(
        tmp_path,
        "c.toml",
        'distinct = true\n[columns]\nexternal_id = "customerID"\n'
        'name = "customerID"\n[constants]\ncurrency = "USD"\n',
    )
    source = "customerID,countryCode,payment_terms_days\nA-1,391,30\nB-2,406,30\nA-1,391,30\n"
    assert run("customers", write(tmp_path, "ok.csv", source), "--mapping", mapping).startswith(
        "customers: 3 rows, 2 created, 0 updated, 1 repeats in "
    )
    assert sorted(Customer.objects.values_list("external_id", "name", "currency")) == [
        ("A-1", "A-1", "USD"),
        ("B-2", "B-2", "USD"),
    ]

    lines = fail("customers", write(tmp_path, "bad.csv", source + "B-2,406,45\n"), "--mapping", mapping)
    assert lines == [
        'line 5, column customerID: "B-2" repeats line 3 with different values (payment_terms_days)'
    ]


def test_customers_update_fields_given_and_keep_the_rest(tmp_path, collector):
    Customer.objects.create(external_id="C1", name="Old", currency="EUR", payment_terms_days=60, country="FR")
    contact = Contact.objects.create(customer=Customer.objects.get(), email="old@acme.test")
    summary = run(
        "customers",
        write(
            tmp_path,
            "c.csv",
            "external_id,name,email,collector,on_hold\nC1,New,new@acme.test,collector,yes\n",
        ),
    )

    assert summary.startswith("customers: 1 rows, 0 created, 1 updated, 1 contacts set in ")
    customer = Customer.objects.get()
    assert (
        customer.name,
        customer.currency,
        customer.payment_terms_days,
        customer.country,
        customer.collector,
        customer.on_hold,
    ) == ("New", "EUR", 60, "FR", collector, True)
    contact.refresh_from_db()
    assert contact.email == "new@acme.test"
    assert Contact.objects.count() == 1

    lines = fail(
        "customers",
        write(
            tmp_path,
            "bad.csv",
            "external_id,name,collector,timezone,email,country\nC2,X,nobody,Mars/Olympus,not-an-email,USA\n",
        ),
    )
    assert lines == [
        'line 2, column country: "USA" is not a two-letter ISO 3166 country code',
        'line 2, column email: "not-an-email" is not an email address',
        'line 2, column timezone: "Mars/Olympus" is not an IANA time zone (e.g. Europe/Paris)',
    ]
    assert Customer.objects.count() == 1


def test_xlsx_files_import_like_csv(tmp_path):
    CustomerFactory(external_id="C1", currency="EUR")
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["external_id", "customer", "issue_date", "due_date", "amount", "note"])
    sheet.append(["X1", "C1", dt.datetime(2026, 3, 1), dt.datetime(2026, 3, 31), 199.99, "a date cell"])
    sheet.append(["X2", "C1", "2026-03-02", "2026-04-01", 20, "text dates and a whole number"])
    sheet.append([None, None, None, None, None, None])  # blank rows are passed over, but keep their line
    sheet.append(["X3", "C1", dt.datetime(2026, 3, 1), dt.datetime(2026, 2, 1), 5, "due before issue"])
    path = tmp_path / "invoices.xlsx"
    book.save(path)

    assert fail("invoices", path) == [
        "line 5, column due_date: due date 2026-02-01 is before issue date 2026-03-01"
    ]
    sheet.delete_rows(5)
    book.save(path)
    assert run("invoices", path).startswith("invoices: 2 rows, 2 created, 0 updated in ")
    assert sorted(Invoice.objects.values_list("external_id", "issue_date", "amount", "currency")) == [
        ("X1", D(2026, 3, 1), Decimal("199.99"), "EUR"),
        ("X2", D(2026, 3, 2), Decimal("20"), "EUR"),
    ]


def test_the_ibm_sample_loads_exactly_and_idempotently():
    if not IBM_CSV.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the IBM sample must exist under CI: {IBM_CSV}")
        pytest.skip("no ../shared/data/ibm_ar beside the repository")
    for kind in ("customers", "invoices", "payments"):
        run(kind, IBM_CSV, "--mapping", IBM_MAPPINGS / f"{kind}.toml")

    assert Customer.objects.count() == 100
    assert Invoice.objects.count() == 2466
    assert Payment.objects.count() == Allocation.objects.count() == 2466
    assert sum(Invoice.objects.values_list("amount", flat=True)) == Decimal("147703.18")
    assert set(Invoice.objects.values_list("open_amount", flat=True)) == {Decimal("0")}
    first = Invoice.objects.get(external_id="0000611365")
    assert (first.customer.external_id, first.issue_date, first.due_date, first.amount, first.closed_on) == (
        "0379-NEVHP",
        D(2013, 1, 2),
        D(2013, 2, 1),
        Decimal("55.94"),
        D(2013, 1, 15),
    )
    assert Payment.objects.get(external_id="PAY-0000611365").date == D(2013, 1, 15)

    events = Event.objects.count()
    for kind in ("customers", "invoices", "payments"):
        assert ", 0 created, 0 updated, " in run(kind, IBM_CSV, "--mapping", IBM_MAPPINGS / f"{kind}.toml")
    assert (Invoice.objects.count(), Payment.objects.count(), Event.objects.count()) == (
        2466,
        2466,
        events + 3,
    )


@pytest.mark.postgres_only
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the bulk path exists on PostgreSQL only")
def test_the_postgresql_bulk_path_restores_every_index_and_constraint(tmp_path, monkeypatch):
    def structure(table: str) -> list[tuple[str, str]]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s"
                " UNION ALL SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = %s::regclass ORDER BY 1, 2",
                [table, table],
            )
            return list(cursor.fetchall())

    tables = [model._meta.db_table for model in (Invoice, Payment, Allocation)]
    before = {table: structure(table) for table in tables}
    monkeypatch.setattr(staging, "BULK_MIN_ROWS", 1)
    CustomerFactory(external_id="C1")
    run(
        "invoices",
        write(
            tmp_path,
            "i.csv",
            "external_id,customer,issue_date,due_date,amount\n"
            "I1,C1,2026-01-01,2026-01-31,10\nI2,C1,2026-01-01,2026-01-31,20\n",
        ),
    )
    run(
        "payments",
        write(
            tmp_path,
            "p.csv",
            "external_id,customer,date,amount,invoice\nP1,C1,2026-02-01,10,I1\nP2,C1,2026-02-01,5,I2\n",
        ),
    )

    assert {table: structure(table) for table in tables} == before
    assert sorted(Invoice.objects.values_list("external_id", "open_amount", "closed_on")) == [
        ("I1", Decimal("0"), D(2026, 2, 1)),
        ("I2", Decimal("15"), None),
    ]
    assert sorted(Allocation.objects.values_list("payment__external_id", "amount")) == [
        ("P1", Decimal("10")),
        ("P2", Decimal("5")),
    ]
