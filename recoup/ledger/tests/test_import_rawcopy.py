"""PostgreSQL's fast path: a clean plain CSV goes through COPY; anything doubtful takes the row parser."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection

from recoup.ledger.imports.run import ImportFailed, import_file
from recoup.ledger.models import Invoice, Payment

DATA = Path(__file__).parent / "data"
D = dt.date
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY exists on PostgreSQL only"),
]
HEADER = "external_id,customer,issue_date,due_date,amount,currency\n"


@pytest.fixture
def customers(collector: object) -> None:
    import_file(kind="customers", path=DATA / "customers.csv")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "invoices.csv"
    path.write_text(text)
    return path


def test_a_clean_file_is_copied_and_converted_exactly(customers, tmp_path):
    rows = 'A1,C1,2026-01-05,2026-02-04,100.5,usd\n"A,2",\t C1\u00a0,2026-01-06,2026-02-05,7,\n'
    path = write(tmp_path, HEADER + rows)
    totals = import_file(kind="invoices", path=path)
    assert (totals.loader, totals.read, totals.created) == ("copy", 2, 2)
    assert sorted(
        Invoice.objects.values_list(
            "external_id",
            "customer__external_id",
            "issue_date",
            "due_date",
            "amount",
            "currency",
            "open_amount",
        )
    ) == [
        ("A,2", "C1", D(2026, 1, 6), D(2026, 2, 5), Decimal("7"), "USD", Decimal("7")),
        ("A1", "C1", D(2026, 1, 5), D(2026, 2, 4), Decimal("100.5"), "USD", Decimal("100.5")),
    ]


@pytest.mark.parametrize(
    ("row", "error"),
    [
        ("B1,C1,2026-01-05,2026-02-30,10,USD", 'line 2, column due_date: "2026-02-30" is not a date'),
        ("B1,C1,2026-03-05,2026-02-04,10,USD", "line 2, column due_date: due date 2026-02-04 is before"),
        ("B1,C1,2026-01-05,2026-02-04,1e3,USD", 'line 2, column amount: "1e3" is not a plain decimal amount'),
        ("B1,C1,2026-01-05,2026-02-04,-5,USD", "line 2, column amount: -5 is not greater than zero"),
        ("B1,,2026-01-05,2026-02-04,5,USD", "line 2, column customer: required value is empty"),
    ],
)
def test_a_doubtful_row_falls_back_to_the_row_parser_and_nothing_is_written(customers, tmp_path, row, error):
    path = write(tmp_path, HEADER + row + "\nOK1,C1,2026-01-05,2026-02-04,10,USD\n")
    with pytest.raises(ImportFailed) as failed:
        import_file(kind="invoices", path=path)
    [only] = [str(e) for e in failed.value.errors]
    assert only.startswith(error)
    assert Invoice.objects.count() == 0


def test_looser_forms_and_odd_currencies_take_the_row_parser(customers, tmp_path):
    # A basic-format ISO date the row parser accepts, and an amount in JPY, both leave the fast path.
    path = write(tmp_path, HEADER + "J1,C3,2026-01-05,2026-02-04,1200,JPY\nJ2,C1,20260105,20260204,5,USD\n")
    totals = import_file(kind="invoices", path=path)
    assert (totals.loader, totals.created) == ("rows", 2)
    assert Invoice.objects.get(external_id="J2").due_date == D(2026, 2, 4)


def test_a_quoted_line_break_keeps_line_numbers_true(customers, tmp_path):
    path = write(
        tmp_path, HEADER + '"Q\n1",C1,2026-01-05,2026-02-04,10,USD\nQ2,C9,2026-01-05,2026-02-04,10,USD\n'
    )
    with pytest.raises(ImportFailed) as failed:
        import_file(kind="invoices", path=path)
    assert [str(e) for e in failed.value.errors] == ['line 4, column customer: unknown customer "C9"']


def test_payments_take_the_fast_path_and_settle_their_invoices(customers, tmp_path):
    import_file(kind="invoices", path=write(tmp_path, HEADER + "P-INV,C1,2026-01-05,2026-02-04,100,USD\n"))
    payments = tmp_path / "payments.csv"
    payments.write_text(
        "external_id,customer,date,amount,currency,invoice\nPAY1,C1,2026-02-01,60,USD,P-INV\n"
    )
    totals = import_file(kind="payments", path=payments)
    assert (totals.loader, totals.created, totals.allocations) == ("copy", 1, 1)
    assert Invoice.objects.get().open_amount == Decimal("40")
    assert Payment.objects.get().unapplied_amount == Decimal("0")
