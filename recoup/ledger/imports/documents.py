"""Payments and credit notes: checks against the ledger, then set-based inserts of documents and allocations.

Ledger facts are append-only. A document already in the ledger with the same values is left alone; one with a
different customer, date, amount, currency or invoice is a row error (reverse it, then import a new one).

A row naming an invoice applies min(document amount, invoice open amount) to it, in (date, line) order when
several rows name one invoice; the rest stays unapplied customer credit. With RECOUP_UNAPPLIED_CASH =
"oldest_first", the rest of each new payment then goes to the customer's oldest open invoices in its currency,
through the allocation service, one payment at a time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from recoup.ledger import services
from recoup.ledger.imports import checks
from recoup.ledger.imports.rows import RowError
from recoup.ledger.imports.staging import STAGING, Db, money_text
from recoup.ledger.imports.totals import Totals
from recoup.ledger.models import Allocation, AllocationKind, CreditNote, Customer, Invoice, Payment

INVOICE = Invoice._meta.db_table
CUSTOMER = Customer._meta.db_table
ALLOCATION = Allocation._meta.db_table
PLAN = "recoup_import_plan"


@dataclass(frozen=True)
class DocumentKind:
    model: type[Payment] | type[CreditNote]
    fk: str  # the allocation column that points at the document
    allocation_kind: str
    text_column: str  # the model's free-text column, left empty
    noun: str

    @property
    def table(self) -> str:
        return self.model._meta.db_table


DOCUMENT_KINDS = {
    "payments": DocumentKind(Payment, "payment_id", AllocationKind.PAYMENT, "reference", "payment"),
    "credit-notes": DocumentKind(
        CreditNote, "credit_note_id", AllocationKind.CREDIT_NOTE, "reason", "credit note"
    ),
}


def validate(db: Db, kind: str, labels: Mapping[str, str]) -> list[RowError]:
    doc = DOCUMENT_KINDS[kind]
    errors = checks.duplicate_ids(db, labels) + checks.unknown_customers(db, labels)
    errors += checks.decimals_of_customer_currency(db, labels)
    return errors + _invoice_references(db, doc, labels) + _changed_documents(db, doc, labels)


def _invoice_references(db: Db, doc: DocumentKind, labels: Mapping[str, str]) -> list[RowError]:
    rows = db.fetch(
        f"SELECT s.line, s.invoice, s.customer, i.id, ic.external_id, i.currency,"
        f"       COALESCE(s.currency, c.currency), s.currency IS NULL"
        f" FROM {STAGING} s LEFT JOIN {CUSTOMER} c ON c.external_id = s.customer"
        f" LEFT JOIN {INVOICE} i ON i.external_id = s.invoice"
        f" LEFT JOIN {CUSTOMER} ic ON ic.id = i.customer_id"
        f" WHERE s.invoice IS NOT NULL AND (i.id IS NULL OR (c.id IS NOT NULL AND"
        f"       (i.customer_id <> c.id OR i.currency <> COALESCE(s.currency, c.currency))))"
    )
    errors = []
    for line, invoice, customer, invoice_id, owner, invoice_currency, currency, defaulted in rows:
        if invoice_id is None:
            errors.append(RowError(line, labels["invoice"], f'unknown invoice "{invoice}"'))
        elif owner != customer:
            errors.append(
                RowError(
                    line,
                    labels["invoice"],
                    f'invoice "{invoice}" belongs to customer "{owner}", not "{customer}"',
                )
            )
        else:
            where = "the customer's currency " if defaulted else ""
            errors.append(
                RowError(
                    line,
                    labels["invoice"] if defaulted else labels["currency"],
                    f'invoice "{invoice}" is in {invoice_currency} but this {doc.noun} is in '
                    f"{where}{currency}",
                )
            )
    return errors


def _changed_documents(db: Db, doc: DocumentKind, labels: Mapping[str, str]) -> list[RowError]:
    other_invoice = (
        f"(s.invoice IS NOT NULL"
        f" AND EXISTS (SELECT 1 FROM {ALLOCATION} a WHERE a.{doc.fk} = t.id AND a.reverses_id IS NULL)"
        f" AND NOT EXISTS (SELECT 1 FROM {ALLOCATION} a JOIN {INVOICE} ai ON ai.id = a.invoice_id"
        f"                 WHERE a.{doc.fk} = t.id AND ai.external_id = s.invoice))"
    )
    rows = db.fetch(
        f"SELECT s.line, s.external_id, tc.external_id, c.id <> t.customer_id, t.date, s.date,"
        f"       t.amount, s.amount, t.currency, COALESCE(s.currency, c.currency),"
        f"       CASE WHEN {other_invoice} THEN 1 ELSE 0 END"
        f" FROM {STAGING} s JOIN {doc.table} t ON t.external_id = s.external_id"
        f" JOIN {CUSTOMER} c ON c.external_id = s.customer JOIN {CUSTOMER} tc ON tc.id = t.customer_id"
        f" WHERE c.id <> t.customer_id OR t.date <> s.date OR t.amount <> s.amount"
        f"    OR t.currency <> COALESCE(s.currency, c.currency) OR {other_invoice}"
    )
    errors = []
    for line, external_id, owner, moved, *ledger_and_file, other in rows:
        date, new_date, amount, new_amount, currency, new_currency = ledger_and_file
        differences: list[tuple[str, str]] = []
        if moved:
            differences.append(("customer", f'customer "{owner}"'))
        if str(date) != str(new_date):
            differences.append(("date", f"date {date}"))
        if money_text(amount) != money_text(new_amount):
            differences.append(("amount", f"amount {money_text(amount)}"))
        if currency != new_currency:
            differences.append(("currency", f"currency {currency}"))
        if other:
            differences.append(("invoice", "allocations to other invoices"))
        first = differences[0][0] if differences else "external_id"
        errors.append(
            RowError(
                line,
                labels[first],
                f'{doc.noun} "{external_id}" is already in the ledger with'
                f" {', '.join(d for _, d in differences)}; "
                f"ledger facts are never edited: reverse it and import it under a new external id",
            )
        )
    return errors


def write(db: Db, kind: str, labels: Mapping[str, str], totals: Totals, actor: Any) -> list[RowError]:
    """Insert the new documents and their allocations; returns row errors found only after writing."""
    doc = DOCUMENT_KINDS[kind]
    first_new = db.scalar(f"SELECT COALESCE(MAX(id), 0) FROM {doc.table}") + 1
    db.execute(f"DROP TABLE IF EXISTS {PLAN}")
    # The plan: every new document with what it applies to the invoice it names, in (date, line) order.
    db.execute(
        f"CREATE TEMPORARY TABLE {PLAN} AS"
        f" SELECT y.line, y.external_id, y.customer_id, y.currency, y.date, y.amount, y.invoice_id,"
        f"        CASE WHEN y.invoice_id IS NULL OR y.room <= 0 THEN 0 WHEN y.room < y.amount THEN y.room"
        f"             ELSE y.amount END AS applied"
        f" FROM (SELECT s.line, s.external_id, c.id AS customer_id,"
        f"              COALESCE(s.currency, c.currency) AS currency, s.date, s.amount, i.id AS invoice_id,"
        f"              ROUND(i.open_amount + s.amount"
        f"                    - SUM(s.amount) OVER (PARTITION BY i.id ORDER BY s.date, s.line"
        f"                                          ROWS UNBOUNDED PRECEDING), 4) AS room"
        f"       FROM {STAGING} s JOIN {CUSTOMER} c ON c.external_id = s.customer"
        f"       LEFT JOIN {INVOICE} i ON i.external_id = s.invoice"
        f"       WHERE NOT EXISTS (SELECT 1 FROM {doc.table} t WHERE t.external_id = s.external_id)) y"
    )
    new, applied = db.fetch(f"SELECT COUNT(*), SUM(CASE WHEN applied > 0 THEN 1 ELSE 0 END) FROM {PLAN}")[0]
    with db.bulk(doc.table, new, keep_unique=False):
        totals.created = db.execute(
            f"INSERT INTO {doc.table} (created_at, updated_at, external_id, customer_id, date, amount,"
            f"                         currency, unapplied_amount, {doc.text_column})"
            f" SELECT %s, %s, p.external_id, p.customer_id, p.date, p.amount, p.currency,"
            f"        ROUND(p.amount - p.applied, 4), ''"
            f" FROM {PLAN} p",
            [db.now, db.now],
        )
    totals.unchanged = totals.rows - totals.created
    with db.bulk(ALLOCATION, applied or 0, keep_unique=False):
        totals.allocations = db.execute(
            f"INSERT INTO {ALLOCATION} (kind, {doc.fk}, invoice_id, amount, currency, date, memo, created_at,"
            f"                          created_by_id)"
            f" SELECT %s, d.id, p.invoice_id, p.applied, p.currency, p.date, '', %s, %s"
            f" FROM {PLAN} p JOIN {doc.table} d ON d.external_id = p.external_id WHERE p.applied > 0",
            [doc.allocation_kind, db.now, getattr(actor, "pk", None)],
        )
    errors: list[RowError] = []
    if totals.allocations:
        with db.bulk(INVOICE, totals.allocations, keep_unique=False):
            _refresh_invoices(db)
        errors = _over_settled_history(db, doc, labels)
    db.execute(f"DROP TABLE {PLAN}")
    if not errors and kind == "payments" and settings.RECOUP_UNAPPLIED_CASH == "oldest_first":
        totals.allocated_oldest_first = _apply_oldest_first(first_new=first_new, actor=actor)
    return errors


def _refresh_invoices(db: Db) -> None:
    """open_amount −= what this import applied; closed_on = the last allocation's date once it reaches 0.

    Not services.refresh_balances: that re-sums every allocation of each touched invoice and checks every one
    date by date, raising on the first bad invoice. Here the new allocations are positive and within today's
    open amount, so subtracting them is enough, and _over_settled_history reports the one case it can miss
    row by row."""
    touched = f"SELECT invoice_id FROM {PLAN} WHERE applied > 0"
    db.execute(
        f"UPDATE {INVOICE} SET open_amount = ROUND({INVOICE}.open_amount - x.total, 4),"
        f"  closed_on = CASE WHEN ROUND({INVOICE}.open_amount - x.total, 4) = 0 THEN x.last END"
        f" FROM (SELECT t.invoice_id, t.total, l.last"
        f"       FROM (SELECT invoice_id, SUM(applied) AS total FROM {PLAN} WHERE applied > 0"
        f"             GROUP BY invoice_id) t"
        f"       JOIN (SELECT invoice_id, MAX(date) AS last FROM {ALLOCATION}"
        f"             WHERE invoice_id IN ({touched}) GROUP BY invoice_id) l"
        f"       ON l.invoice_id = t.invoice_id) x"
        f" WHERE {INVOICE}.id = x.invoice_id"
    )


def _over_settled_history(db: Db, doc: DocumentKind, labels: Mapping[str, str]) -> list[RowError]:
    """Positive allocations within today's open amount can only over-settle a past date where a reversal was
    booked later, so only invoices with reversals are checked, date by date
    (as services.check_allocation_history does)."""
    rows = db.fetch(
        f"SELECT p.line, x.external_id, x.date, x.amount FROM ("
        f"  SELECT h.invoice_id, h.external_id, MIN(h.date) AS date, MIN(h.amount) AS amount"
        f"  FROM (SELECT a.invoice_id, i.external_id, a.date, i.amount,"
        f"               ROUND(SUM(a.amount) OVER (PARTITION BY a.invoice_id ORDER BY a.date), 4) AS running"
        f"        FROM {ALLOCATION} a JOIN {INVOICE} i ON i.id = a.invoice_id"
        f"        WHERE a.invoice_id IN (SELECT r.invoice_id FROM {ALLOCATION} r"
        f"                               WHERE r.reverses_id IS NOT NULL)"
        f"          AND a.invoice_id IN (SELECT invoice_id FROM {PLAN} WHERE applied > 0)) h"
        f"  WHERE h.running < 0 OR h.running > h.amount GROUP BY h.invoice_id, h.external_id) x"
        f" JOIN {PLAN} p ON p.invoice_id = x.invoice_id AND p.applied > 0 AND p.date <= x.date"
    )
    return [
        RowError(
            line,
            labels["invoice"],
            f'applying this {doc.noun} would settle more than the {money_text(amount)} of "{invoice}" '
            f"on {date}, before a later reversal reopened it: apply it by hand",
        )
        for line, invoice, date, amount in rows
    ]


def _apply_oldest_first(*, first_new: int, actor: Any) -> int:
    count = 0
    payments = Payment.objects.filter(pk__gte=first_new, unapplied_amount__gt=0).order_by("date", "id")
    for payment in payments.iterator(chunk_size=500):
        open_invoices = Invoice.objects.filter(
            customer_id=payment.customer_id, currency=payment.currency, open_amount__gt=0
        ).order_by("due_date", "issue_date", "id")
        remaining = payment.unapplied_amount
        for invoice in open_invoices:
            if remaining <= 0:
                break
            amount = min(invoice.open_amount, remaining)
            services.allocation_create(
                actor=actor, invoice=invoice, source=payment, amount=amount, date=payment.date
            )
            remaining -= amount
            count += 1
    return count
