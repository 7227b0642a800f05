"""The ledger's watermark (LedgerRevision): database triggers count every change of a dated fact on the month
of its date, whoever writes it (services, imports, raw SQL), and never the kept balances. Stored month-end
figures are reused only while these counts are unchanged (recoup/reports/tests/test_kpis_snapshots.py)."""

from __future__ import annotations

import datetime as dt
import io
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from recoup.ledger import services
from recoup.ledger.models import Allocation, LedgerRevision
from recoup.ledger.selectors import ledger_revisions

D = dt.date
DATA = Path(__file__).parent / "data"
pytestmark = pytest.mark.django_db
POSTGRES = connection.vendor == "postgresql"


def counts() -> dict[dt.date | None, int]:
    """The changes counted per month (None: undated), rows of the same month added up."""
    per_month: dict[dt.date | None, int] = {}
    for month, changes in LedgerRevision.objects.values_list("month", "changes"):
        per_month[month] = per_month.get(month, 0) + changes
    return per_month


def execute(sql: str, params: list[Any]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_every_dated_fact_counts_on_its_month_whoever_writes_it_and_the_kept_balances_never(books, collector):
    acme = books.customer("ACME")
    assert counts() == {}  # customers and contacts are not dated facts
    invoice = books.invoice(acme, D(2026, 2, 9), "100.00")  # issued 2026-01-10
    assert counts() == {D(2026, 1, 1): 1}

    # The payment row and the refreshed open amount and unapplied cash are not counted; the allocation is.
    books.pay(invoice, "40.00", D(2026, 3, 5))
    assert counts() == {D(2026, 1, 1): 1, D(2026, 3, 1): 1}

    services.fx_rate_set(actor=None, currency="EUR", date=D(2025, 11, 20), rate=Decimal("1.10"))
    services.fx_rate_set(actor=None, currency="EUR", date=D(2025, 11, 20), rate=Decimal("1.20"))  # corrected
    services.fx_rate_set(actor=None, currency="EUR", date=D(2025, 11, 20), rate=Decimal("1.20"))  # the same
    assert counts()[D(2025, 11, 1)] == 2

    # What aging shows of a customer (its name, its collector) is undated; its segment is not shown.
    services.customer_update(actor=None, customer=acme, name="Acme Corp")
    services.customer_update(actor=None, customer=acme, segment="Retail")
    assert counts()[None] == 1
    services.customer_update(actor=None, customer=acme, collector=collector)
    services.customer_update(actor=None, customer=acme, collector=collector)  # the same: nothing changes
    execute("UPDATE ledger_customer SET collector_id = NULL WHERE id = %s", [acme.pk])
    assert counts()[None] == 3

    # Writes that bypass the services count all the same; a kept balance rewritten does not.
    execute("UPDATE ledger_invoice SET due_date = %s WHERE id = %s", [D(2026, 2, 20), invoice.pk])
    execute("UPDATE ledger_invoice SET open_amount = open_amount + 0 WHERE id = %s", [invoice.pk])
    execute("DELETE FROM ledger_fxrate WHERE date = %s", [D(2025, 11, 20)])
    services.allocation_reverse(
        actor=None, allocation=Allocation.objects.get(invoice=invoice), date=D(2026, 4, 2)
    )

    assert counts() == {
        None: 3,
        D(2025, 11, 1): 3,
        D(2026, 1, 1): 2,
        D(2026, 3, 1): 1,
        D(2026, 4, 1): 1,
    }
    days = [D(2025, 10, 31), D(2025, 11, 30), D(2026, 2, 28), D(2026, 3, 31), D(2026, 3, 4), D(2026, 4, 30)]
    # A day counts the changes of its month and the months before: 2026-03-04 counts March's 5th too.
    assert ledger_revisions(days) == dict(zip(days, [0, 3, 5, 6, 6, 7], strict=True))
    assert ledger_revisions(days, undated=True) == dict(zip(days, [3, 6, 8, 9, 9, 10], strict=True))


def test_an_import_counts_its_rows_earliest_month_and_a_reimport_of_the_same_file_nothing(
    collector, tmp_path
):
    def run(*args: object) -> None:
        call_command("import", *[str(a) for a in args], stdout=io.StringIO(), stderr=io.StringIO())

    run("customers", DATA / "customers.csv")
    run("invoices", DATA / "invoices.csv")  # INV1 and INV2 issued in January 2026, INV3 and INV4 in February
    # PostgreSQL counts each statement once, on its earliest date; SQLite's triggers count row by row.
    assert counts() == ({D(2026, 1, 1): 1} if POSTGRES else {D(2026, 1, 1): 2, D(2026, 2, 1): 2})

    run("invoices", DATA / "invoices.csv")
    changed = tmp_path / "invoices.csv"
    changed.write_text(
        (DATA / "invoices.csv")
        .read_text()
        .replace("INV3,C2,2026-02-01,2026-03-18,80,", "INV3,C2,2026-02-01,2026-03-18,81,")
    )
    run("invoices", changed)  # INV3's amount corrected

    assert counts() == (
        {D(2026, 1, 1): 1, D(2026, 2, 1): 1} if POSTGRES else {D(2026, 1, 1): 2, D(2026, 2, 1): 3}
    )
    assert ledger_revisions([D(2025, 12, 31)]) == {D(2025, 12, 31): 0}


@pytest.mark.postgres_only
@pytest.mark.skipif(not POSTGRES, reason="TRUNCATE: PostgreSQL")
def test_a_truncate_counts_before_every_month(books):
    services.fx_rate_set(actor=None, currency="EUR", date=D(2026, 3, 1), rate=Decimal("1.10"))
    execute("TRUNCATE ledger_fxrate", [])
    assert counts() == {D(2026, 3, 1): 1, D(1, 1, 1): 1}
    assert ledger_revisions([D(1900, 1, 31)]) == {D(1900, 1, 31): 1}


@pytest.mark.postgres_only
@pytest.mark.skipif(not POSTGRES, reason="row locks between connections: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_writers_of_one_month_never_wait_for_each_other():
    first_wrote, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []
    before = ledger_revisions([D(2026, 3, 31)])[D(2026, 3, 31)]  # an earlier test's flush may have counted

    def first_writer() -> None:
        try:
            with transaction.atomic():
                services.fx_rate_set(actor=None, currency="EUR", date=D(2026, 3, 2), rate=Decimal("1.10"))
                first_wrote.set()
                release.wait(10)  # holds its row of March until it commits
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=first_writer)
    thread.start()
    assert first_wrote.wait(10)
    with transaction.atomic():
        execute("SET LOCAL lock_timeout = '2s'", [])  # waiting would fail this write
        services.fx_rate_set(actor=None, currency="GBP", date=D(2026, 3, 3), rate=Decimal("1.27"))
    assert thread.is_alive()  # the first writer has not committed yet
    release.set()
    thread.join(10)
    # A later writer takes the first free row of the month again.
    services.fx_rate_set(actor=None, currency="CHF", date=D(2026, 3, 4), rate=Decimal("1.05"))

    assert failures == []
    march = list(
        LedgerRevision.objects.filter(month=D(2026, 3, 1)).order_by("id").values_list("changes", flat=True)
    )
    assert march == [2, 1]
    assert ledger_revisions([D(2026, 3, 31)]) == {D(2026, 3, 31): before + 3}
