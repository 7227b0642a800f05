"""kept.reusing() and aging: a report computed once is served again, in any later request of the process,
while the ledger's watermark up to its as-of date (and the customers' names and collectors) is unchanged; any
committed change makes the next call compute again, and inside a transaction nothing is reused. Autocommit
tests: what a request sees."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from recoup.ledger import aging, kept, services

D = dt.date
AS_OF = D(2026, 3, 15)
pytestmark = pytest.mark.django_db(transaction=True)


def reused_report(**params: object) -> tuple[aging.AgingReport, str]:
    """The report inside reusing(), and what it read: "kept" (only the watermark), "computed" (the watermark,
    then the ledger) or "aged" (the ledger alone)."""
    with kept.reusing(), CaptureQueriesContext(connection) as captured:
        report = aging.aging_report(as_of=AS_OF, **params)  # type: ignore[arg-type]
    sql = [query["sql"] for query in captured.captured_queries]
    watermark = any("ledger_ledgerrevision" in text for text in sql)
    ledger = any("ledger_invoice" in text for text in sql)
    return report, {(True, False): "kept", (True, True): "computed", (False, True): "aged"}[
        (watermark, ledger)
    ]


@pytest.fixture
def invoices(books):
    acme = books.customer("ACME", name="Acme")
    beta = books.customer("BETA", name="Beta")
    return {
        "acme": acme,
        "a1": books.invoice(acme, D(2026, 2, 1), "100.00"),  # 42 days past due on AS_OF
        "b1": books.invoice(beta, D(2026, 3, 31), "250.00"),  # current
    }


def test_a_report_is_reused_until_a_change_dated_by_then_is_committed(books, invoices):
    first, read_first = reused_report(by="customer")
    again, read_again = reused_report(by="total")

    assert (read_first, read_again) == ("computed", "kept")
    assert (again.by, again.rows, again.total) == ("total", [], first.total)
    assert first.total.total == Decimal("350.00")

    books.pay(invoices["a1"], "40.00", D(2026, 3, 10))
    after, read_after = reused_report(by="customer")

    assert read_after == "computed"
    assert [(row.key, row.total) for row in after.rows] == [
        ("ACME", Decimal("60.00")),
        ("BETA", Decimal("250.00")),
    ]


def test_a_customer_renamed_is_shown_with_its_new_name(invoices):
    reused_report()
    services.customer_update(actor=None, customer=invoices["acme"], name="Acme Corp")

    report, _ = reused_report()

    assert [row.name for row in report.rows] == ["Acme Corp", "Beta"]


def test_each_row_names_the_customers_collector_and_a_reassignment_is_seen_at_once(invoices, collector):
    first, _ = reused_report()
    services.customer_update(actor=None, customer=invoices["acme"], collector=collector)

    report, read = reused_report()

    assert [(row.key, row.collector_id) for row in first.rows] == [("ACME", None), ("BETA", None)]
    assert read == "computed"
    assert [(row.key, row.collector_id) for row in report.rows] == [("ACME", collector.pk), ("BETA", None)]
    assert report.total.collector_id is None


def test_other_customers_buckets_or_dates_are_other_reports(invoices):
    reused_report()
    just_acme, read = reused_report(customer_ids=[invoices["acme"].pk])
    by_invoice_date, read_too = reused_report(basis="invoice")

    assert read == read_too == "computed"
    assert just_acme.total.total == Decimal("100.00")
    assert by_invoice_date.total.buckets[0] == Decimal("0.00")  # issued 2026-01-02 and 2026-03-01


def test_inside_a_transaction_every_report_is_computed(invoices):
    reused_report()
    with transaction.atomic():
        _, inside = reused_report()
        services.customer_update(actor=None, customer=invoices["acme"], name="Uncommitted")
        renamed, _ = reused_report()
        transaction.set_rollback(True)

    after, _ = reused_report()

    assert inside == "aged"
    assert [row.name for row in renamed.rows] == ["Uncommitted", "Beta"]
    assert [row.name for row in after.rows] == ["Acme", "Beta"]  # the rolled-back name was never kept
