"""Invoices: checks against the ledger, then one set-based upsert by external id.

Re-importing an invoice with a new amount keeps what is applied to it: open_amount = new amount − applied, and
closed_on follows. The new amount may not drop below the most that was ever applied at any date.

`dunning_policy` names a policy; an empty or absent cell keeps the invoice's (an import never blanks it).
"""

from __future__ import annotations

from collections.abc import Mapping

from recoup.ledger.imports import checks
from recoup.ledger.imports.rows import RowError
from recoup.ledger.imports.staging import STAGING, Db, money_text
from recoup.ledger.imports.totals import Totals
from recoup.ledger.models import Allocation, Customer, Invoice

INVOICE = Invoice._meta.db_table
CUSTOMER = Customer._meta.db_table
ALLOCATION = Allocation._meta.db_table


def validate(db: Db, labels: Mapping[str, str]) -> list[RowError]:
    errors = checks.duplicate_ids(db, labels) + checks.unknown_customers(db, labels)
    errors += checks.decimals_of_customer_currency(db, labels) + checks.unknown_dunning_policies(db, labels)
    return errors + _changes_to_applied_invoices(db, labels)


def _changes_to_applied_invoices(db: Db, labels: Mapping[str, str]) -> list[RowError]:
    """An invoice with allocations keeps its customer and currency, and its amount covers every past total."""
    rows = db.fetch(
        f"SELECT s.line, s.external_id, s.amount, COALESCE(s.currency, c.currency), t.currency,"
        f"       c.id <> t.customer_id, tc.external_id,"
        f"       (SELECT MAX(r.running)"
        f"        FROM (SELECT ROUND(SUM(a.amount) OVER (ORDER BY a.date), 4) AS running"
        f"              FROM {ALLOCATION} a WHERE a.invoice_id = t.id) r)"
        f" FROM {STAGING} s JOIN {INVOICE} t ON t.external_id = s.external_id"
        f" JOIN {CUSTOMER} c ON c.external_id = s.customer JOIN {CUSTOMER} tc ON tc.id = t.customer_id"
        f" WHERE (s.amount < t.amount OR c.id <> t.customer_id"
        f"        OR COALESCE(s.currency, c.currency) <> t.currency)"
        f"   AND EXISTS (SELECT 1 FROM {ALLOCATION} a WHERE a.invoice_id = t.id)"
    )
    errors = []
    for line, external_id, amount, currency, old_currency, moved, old_customer, peak in rows:
        if moved:
            errors.append(
                RowError(
                    line,
                    labels["customer"],
                    f"{external_id} has allocations, so it cannot move from customer "
                    f'"{old_customer}" to another; reverse them first',
                )
            )
        if currency != old_currency:
            errors.append(
                RowError(
                    line,
                    labels["currency"],
                    f"{external_id} has allocations in {old_currency}, so its currency cannot "
                    f"become {currency}",
                )
            )
        if peak is not None and amount < peak:
            errors.append(
                RowError(
                    line,
                    labels["amount"],
                    f"{money_text(amount)} is below the {money_text(peak)} already applied to "
                    f"{external_id}; reverse allocations first",
                )
            )
    return errors


def write(db: Db, totals: Totals) -> None:
    existing = db.scalar(
        f"SELECT COUNT(*) FROM {INVOICE} t"
        f" WHERE EXISTS (SELECT 1 FROM {STAGING} s WHERE s.external_id = t.external_id)"
    )
    columns = (
        "created_at, updated_at, external_id, customer_id, issue_date, due_date, amount, currency,"
        " open_amount, closed_on, dunning_policy_id"
    )
    select = (
        f"SELECT %s, %s, s.external_id, c.id, s.issue_date, s.due_date, s.amount,"
        f" COALESCE(s.currency, c.currency), s.amount, NULL, p.id"
        f" FROM {STAGING} s JOIN {CUSTOMER} c ON c.external_id = s.customer"
        f" LEFT JOIN {checks.POLICY} p ON p.name = s.dunning_policy"
    )
    # A first load of new invoices needs no conflict handling: it runs as a plain bulk insert (Db.bulk).
    with db.bulk(INVOICE, totals.rows, keep_unique=existing > 0) as bulk:
        if bulk and not existing:
            changed = db.execute(f"INSERT INTO {INVOICE} ({columns}) {select}", [db.now, db.now])
        else:
            # SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT, else it reads it as the join's ON.
            changed = db.execute(
                f"INSERT INTO {INVOICE} ({columns}) {select} WHERE 1 = 1"
                f" ON CONFLICT (external_id) DO UPDATE SET"
                f"   updated_at = excluded.updated_at, customer_id = excluded.customer_id,"
                f"   issue_date = excluded.issue_date, due_date = excluded.due_date,"
                f"   currency = excluded.currency, amount = excluded.amount,"
                f"   open_amount = ROUND(excluded.amount - {INVOICE}.amount + {INVOICE}.open_amount, 4),"
                f"   closed_on = CASE WHEN excluded.amount = {INVOICE}.amount THEN {INVOICE}.closed_on END,"
                # An empty cell keeps the invoice's policy.
                f"   dunning_policy_id = COALESCE(excluded.dunning_policy_id, {INVOICE}.dunning_policy_id)"
                f" WHERE {INVOICE}.customer_id <> excluded.customer_id"
                f"    OR {INVOICE}.issue_date <> excluded.issue_date"
                f"    OR {INVOICE}.due_date <> excluded.due_date"
                f"    OR {INVOICE}.amount <> excluded.amount"
                f"    OR {INVOICE}.currency <> excluded.currency"
                f"    OR (excluded.dunning_policy_id IS NOT NULL"
                f"        AND {db.differs(f'{INVOICE}.dunning_policy_id', 'excluded.dunning_policy_id')})",
                [db.now, db.now],
            )
    totals.created = totals.rows - existing
    totals.updated = changed - totals.created
    totals.unchanged = existing - totals.updated
    if totals.updated:
        # An amount lowered to exactly what is applied settles the invoice on its last allocation's date.
        db.execute(
            f"UPDATE {INVOICE} SET closed_on = (SELECT MAX(a.date) FROM {ALLOCATION} a"
            f"                                  WHERE a.invoice_id = {INVOICE}.id)"
            f" WHERE open_amount = 0 AND closed_on IS NULL"
            f"   AND external_id IN (SELECT external_id FROM {STAGING})"
        )
