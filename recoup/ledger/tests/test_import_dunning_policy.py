"""The optional `dunning_policy` column of the customers and invoices imports: a policy named exactly, checked
for every row against the policies in one query, and kept when a cell is empty."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from django.db import connection

from recoup.core.models import Event
from recoup.dunning import services as dunning_services
from recoup.dunning.models import DunningPolicy
from recoup.dunning.policies import parse_policy
from recoup.ledger.imports import staging
from recoup.ledger.imports.run import ImportFailed, import_file
from recoup.ledger.models import Customer, Invoice
from recoup.ledger.tests.factories import CustomerFactory, InvoiceFactory
from recoup.ledger.tests.test_import import csv, fail, run

pytestmark = pytest.mark.django_db
CUSTOMERS = "external_id,name,dunning_policy\n"
INVOICES = "external_id,customer,issue_date,due_date,amount,dunning_policy\n"


def xlsx(tmp_path: Path, rows: list[list[object]], name: str = "file.xlsx") -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    path = tmp_path / name
    book.save(path)
    return path


def policies_of(model: type[Customer] | type[Invoice]) -> dict[str, str | None]:
    return dict(model.objects.order_by("external_id").values_list("external_id", "dunning_policy__name"))


def snapshot() -> tuple[object, ...]:
    return (
        policies_of(Customer),
        policies_of(Invoice),
        list(Customer.objects.order_by("id").values_list("external_id", "updated_at")),
        list(Invoice.objects.order_by("id").values_list("external_id", "updated_at")),
        Event.objects.count(),
    )


@pytest.fixture
def strict() -> DunningPolicy:
    """A second policy next to the default "Standard" that the first migration creates."""
    spec = parse_policy({"name": "Strict", "levels": [{"name": "Reminder", "offset_days": 1}]})
    policy, _ = dunning_services.policy_save(actor=None, spec=spec)
    return policy


# Customers --------------------------------------------------------------------------------------------------


def test_customers_name_their_policy_exactly_with_surrounding_spaces_trimmed(strict, tmp_path):
    summary = run("customers", csv(tmp_path, CUSTOMERS + "C1,Acme,Strict\nC2,Beta,  Standard \nC3,Gamma,\n"))

    assert summary.startswith("customers: 3 rows, 3 created, 0 updated in ")
    assert policies_of(Customer) == {"C1": "Strict", "C2": "Standard", "C3": None}


def test_an_empty_or_absent_cell_keeps_the_customer_policy_and_a_new_one_counts_as_an_update(
    strict, tmp_path
):
    run("customers", csv(tmp_path, CUSTOMERS + "C1,Acme,Strict\nC2,Beta,Standard\nC3,Gamma,\n"))

    again = run("customers", csv(tmp_path, CUSTOMERS + "C1,Acme,\nC2,Beta,Strict\nC3,Gamma,\n"))
    assert "0 created, 1 updated, 2 unchanged" in again
    assert policies_of(Customer) == {"C1": "Strict", "C2": "Strict", "C3": None}

    without_the_column = csv(tmp_path, "external_id,name\nC1,Acme\nC2,Beta\nC3,Gamma\n")
    assert "0 created, 0 updated, 3 unchanged" in run("customers", without_the_column)
    assert policies_of(Customer) == {"C1": "Strict", "C2": "Strict", "C3": None}


def test_unknown_policies_of_customers_are_listed_row_by_row_and_nothing_is_written(strict, tmp_path):
    run("customers", csv(tmp_path, CUSTOMERS + "C1,Acme,Strict\n"))
    before = snapshot()

    message, lines = fail(
        "customers",
        csv(
            tmp_path,
            "external_id,name,collector,dunning_policy\n"
            "C1,Acme,,Lenient\n"
            "C2,Beta,,Standard\n"
            "C3,Gamma,nobody,strict\n"
            'C4,Delta,,"Strict, please"\n',
        ),
    )

    assert message.endswith("file.csv: 4 problem(s) in 3 row(s); nothing was imported")
    assert lines == [
        'line 2, column dunning_policy: unknown dunning policy "Lenient"',
        'line 4, column collector: unknown user "nobody"',
        'line 4, column dunning_policy: unknown dunning policy "strict" (did you mean "Strict"? names match'
        " exactly)",
        'line 5, column dunning_policy: unknown dunning policy "Strict, please"',
    ]
    assert snapshot() == before


def test_customers_from_xlsx_name_their_policy(strict, tmp_path):
    path = xlsx(
        tmp_path,
        [["external_id", "name", "dunning_policy"], ["C1", "Acme", "Strict"], ["C2", "Beta", None]],
    )
    assert run("customers", path).startswith("customers: 2 rows, 2 created, 0 updated in ")
    assert policies_of(Customer) == {"C1": "Strict", "C2": None}

    bad = xlsx(tmp_path, [["external_id", "name", "dunning_policy"], ["C2", "Beta", 2026]], "bad.xlsx")
    before = snapshot()
    _, lines = fail("customers", bad)
    assert lines == ['line 2, column dunning_policy: unknown dunning policy "2026"']
    assert snapshot() == before


def test_a_mapped_policy_column_is_named_in_its_errors(strict, tmp_path):
    mapping = csv(tmp_path, '[columns]\ndunning_policy = "Collections plan"\n', "map.toml")
    path = csv(tmp_path, "external_id,name,Collections plan\nC1,Acme,Strict\nC2,Beta,Gentle\n")

    _, lines = fail("customers", path, "--mapping", mapping)

    assert lines == ['line 3, column Collections plan: unknown dunning policy "Gentle"']
    assert not Customer.objects.exists()


def test_a_policy_name_longer_than_any_policy_is_refused_while_reading(tmp_path):
    _, lines = fail("customers", csv(tmp_path, CUSTOMERS + f"C1,Acme,{'x' * 101}\n"))
    assert lines == [f'line 2, column dunning_policy: "{"x" * 40}…" is longer than 100 characters']


# Invoices ---------------------------------------------------------------------------------------------------


@pytest.fixture
def customers(strict) -> None:
    CustomerFactory(external_id="C1", dunning_policy=strict)
    CustomerFactory(external_id="C2")


def test_invoices_name_their_policy_and_a_reimport_changes_nothing(customers, tmp_path):
    path = csv(
        tmp_path,
        INVOICES + "I1,C1,2026-01-05,2026-02-04,100,Standard\n"
        "I2,C2,2026-01-05,2026-02-04,100, Strict\n"
        "I3,C2,2026-01-05,2026-02-04,100,\n",
    )
    assert run("invoices", path).startswith("invoices: 3 rows, 3 created, 0 updated in ")
    assert policies_of(Invoice) == {"I1": "Standard", "I2": "Strict", "I3": None}

    before = snapshot()
    assert "0 created, 0 updated, 3 unchanged" in run("invoices", path)
    assert snapshot()[:4] == before[:4]


def test_the_invoice_upsert_keeps_the_policy_on_an_empty_cell_and_counts_a_new_one_as_an_update(
    customers, tmp_path
):
    run(
        "invoices",
        csv(
            tmp_path,
            INVOICES + "I1,C1,2026-01-05,2026-02-04,100,Standard\nI4,C1,2026-01-05,2026-02-04,100,Standard\n",
        ),
    )
    InvoiceFactory(external_id="I2", customer=Customer.objects.get(external_id="C2"))
    # I1: a new amount and an empty cell keep Standard; I2: only the policy changes; I3 is new, with none;
    # I4: nothing changes.
    path = csv(
        tmp_path,
        INVOICES + "I1,C1,2026-01-05,2026-02-04,120,\n"
        "I2,C2,2026-01-01,2026-01-31,100.00,Strict\n"
        "I3,C2,2026-01-05,2026-02-04,100,\n"
        "I4,C1,2026-01-05,2026-02-04,100,\n",
    )

    assert "1 created, 2 updated, 1 unchanged" in run("invoices", path)
    assert policies_of(Invoice) == {"I1": "Standard", "I2": "Strict", "I3": None, "I4": "Standard"}
    i1, i2 = Invoice.objects.get(external_id="I1"), Invoice.objects.get(external_id="I2")
    assert (i1.amount, i1.open_amount) == (120, 120)
    assert (i2.amount, i2.open_amount, i2.closed_on) == (100, 100, None)

    without_the_column = csv(
        tmp_path, "external_id,customer,issue_date,due_date,amount\nI1,C1,2026-01-05,2026-02-04,130\n"
    )
    assert "0 created, 1 updated in " in run("invoices", without_the_column)
    assert policies_of(Invoice)["I1"] == "Standard"


def test_unknown_policies_of_invoices_are_listed_row_by_row_and_nothing_is_written(customers, tmp_path):
    run("invoices", csv(tmp_path, INVOICES + "I1,C1,2026-01-05,2026-02-04,100,Standard\n"))
    before = snapshot()

    message, lines = fail(
        "invoices",
        csv(
            tmp_path,
            INVOICES + "I1,C1,2026-01-05,2026-02-04,100,Strict\n"
            "I2,C2,2026-01-05,2026-02-04,100,standard\n"
            "I3,C9,2026-01-05,2026-02-04,100,Gentle\n"
            "I4,C2,2026-01-05,2026-02-04,100,\n",
        ),
    )

    assert message.endswith("file.csv: 3 problem(s) in 2 row(s); nothing was imported")
    assert lines == [
        'line 3, column dunning_policy: unknown dunning policy "standard" (did you mean "Standard"? names'
        " match exactly)",
        'line 4, column customer: unknown customer "C9"',
        'line 4, column dunning_policy: unknown dunning policy "Gentle"',
    ]
    assert snapshot() == before


def test_invoices_from_xlsx_name_their_policy_and_unknown_names_are_refused(customers, tmp_path):
    header = ["external_id", "customer", "issue_date", "due_date", "amount", "dunning_policy"]
    good = xlsx(tmp_path, [header, ["X1", "C1", "2026-03-01", "2026-03-31", 20, "Strict"]])
    assert run("invoices", good).startswith("invoices: 1 rows, 1 created, 0 updated in ")
    assert policies_of(Invoice) == {"X1": "Strict"}

    bad = xlsx(
        tmp_path,
        [
            header,
            ["X1", "C1", "2026-03-01", "2026-03-31", 20, "Standard"],
            ["X2", "C1", "2026-03-01", "2026-03-31", 20, "Nope"],
            ["X3", "C1", "2026-03-01", "2026-03-31", 20, "Nope either"],
        ],
        "bad.xlsx",
    )
    before = snapshot()
    _, lines = fail("invoices", bad)
    assert lines == [
        'line 3, column dunning_policy: unknown dunning policy "Nope"',
        'line 4, column dunning_policy: unknown dunning policy "Nope either"',
    ]
    assert snapshot() == before


def test_a_mapping_constant_names_one_policy_for_every_row(customers, tmp_path):
    mapping = csv(tmp_path, '[constants]\ndunning_policy = "Strict"\n', "map.toml")
    path = csv(
        tmp_path,
        "external_id,customer,issue_date,due_date,amount\n"
        "K1,C1,2026-01-05,2026-02-04,100\nK2,C2,2026-01-05,2026-02-04,100\n",
    )
    assert run("invoices", path, "--mapping", mapping).startswith("invoices: 2 rows, 2 created, ")
    assert policies_of(Invoice) == {"K1": "Strict", "K2": "Strict"}

    unknown = csv(tmp_path, '[constants]\ndunning_policy = "Gentle"\n', "unknown.toml")
    _, lines = fail("invoices", path, "--mapping", unknown)
    assert lines == [
        'line 2, column dunning_policy (constant): unknown dunning policy "Gentle"',
        'line 3, column dunning_policy (constant): unknown dunning policy "Gentle"',
    ]


def test_a_dry_run_checks_the_policies_and_writes_none(customers, tmp_path):
    path = csv(tmp_path, INVOICES + "I1,C1,2026-01-05,2026-02-04,100,Strict\n")
    assert run("invoices", path, "--dry-run").endswith("(dry run: nothing was written)\n")
    assert not Invoice.objects.exists()


# PostgreSQL: the COPY fast path and the bulk load -----------------------------------------------------------


@pytest.mark.postgres_only
@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY exists on PostgreSQL only")
def test_the_copy_fast_path_reads_the_policy_column(customers, tmp_path):
    path = csv(
        tmp_path,
        INVOICES + "F1,C1,2026-01-05,2026-02-04,100,Strict\n"
        'F2,C2,2026-01-05,2026-02-04,100,"\u00a0Standard "\n'
        "F3,C2,2026-01-05,2026-02-04,100,\n",
    )
    totals = import_file(kind="invoices", path=path)
    assert (totals.loader, totals.created) == ("copy", 3)
    assert policies_of(Invoice) == {"F1": "Strict", "F2": "Standard", "F3": None}

    # The upsert on the same path: an empty cell keeps, a new name updates, an unchanged row stays.
    again = csv(
        tmp_path,
        INVOICES + "F1,C1,2026-01-05,2026-02-04,100,\nF2,C2,2026-01-05,2026-02-04,100,Strict\n"
        "F3,C2,2026-01-05,2026-02-04,100,\n",
    )
    totals = import_file(kind="invoices", path=again)
    assert (totals.loader, totals.created, totals.updated, totals.unchanged) == ("copy", 0, 1, 2)
    assert policies_of(Invoice) == {"F1": "Strict", "F2": "Strict", "F3": None}


@pytest.mark.postgres_only
@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY exists on PostgreSQL only")
def test_unknown_policies_found_after_a_copy_are_row_errors_and_nothing_is_written(customers, tmp_path):
    path = csv(
        tmp_path,
        INVOICES + "F1,C1,2026-01-05,2026-02-04,100,Strict\nF2,C2,2026-01-05,2026-02-04,100,Gentle\n"
        "F3,C2,2026-01-05,2026-02-04,100,STRICT\n",
    )
    with pytest.raises(ImportFailed) as failed:
        import_file(kind="invoices", path=path)
    assert [str(e) for e in failed.value.errors] == [
        'line 3, column dunning_policy: unknown dunning policy "Gentle"',
        'line 4, column dunning_policy: unknown dunning policy "STRICT" (did you mean "Strict"? names match'
        " exactly)",
    ]
    assert not Invoice.objects.exists()


@pytest.mark.postgres_only
@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY exists on PostgreSQL only")
def test_an_overlong_policy_name_leaves_the_fast_path_and_the_row_parser_names_it(customers, tmp_path):
    path = csv(tmp_path, INVOICES + f"F1,C1,2026-01-05,2026-02-04,100,{'p' * 101}\n")
    with pytest.raises(ImportFailed) as failed:
        import_file(kind="invoices", path=path)
    assert [str(e) for e in failed.value.errors] == [
        f'line 2, column dunning_policy: "{"p" * 40}…" is longer than 100 characters'
    ]


@pytest.mark.postgres_only
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the bulk path exists on PostgreSQL only")
def test_a_bulk_first_load_sets_the_policies_and_restores_the_foreign_key(customers, tmp_path, monkeypatch):
    monkeypatch.setattr(staging, "BULK_MIN_ROWS", 1)
    path = csv(
        tmp_path,
        INVOICES + "B1,C1,2026-01-05,2026-02-04,100,Strict\nB2,C2,2026-01-05,2026-02-04,100,\n",
    )
    totals = import_file(kind="invoices", path=path)

    assert (totals.loader, totals.created) == ("copy", 2)
    assert policies_of(Invoice) == {"B1": "Strict", "B2": None}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'ledger_invoice'::regclass"
            " AND contype = 'f' AND pg_get_constraintdef(oid) LIKE '%%dunning_policy_id%%'"
        )
        assert len(cursor.fetchall()) == 1
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'invoice_dunning_policy'")
        assert len(cursor.fetchall()) == 1
