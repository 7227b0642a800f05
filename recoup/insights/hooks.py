"""What other apps call when a customer's facts change: rescore that customer once the transaction commits.

The ledger calls it when an allocation is made (a payment or credit note applied, a write-off) or reversed;
disputes when one opens or is resolved. Many calls in one transaction (a bulk request of a thousand payments)
make one rescoring task for all their customers. The task runs after the commit, so a rollback rescores
nothing, and a failure to rescore never undoes the payment (`robust`): the nightly scoring repairs whatever
a failed rescoring left stale. Nothing here queries inside the caller's transaction.
"""

from __future__ import annotations

from django.db import transaction

_PENDING = "_recoup_insights_rescore"


def rescore_on_commit(*, customer_id: int | None = None, invoice_id: int | None = None) -> None:
    """Rescore the customer (or the customer of the invoice) after the current transaction commits."""
    key = ("customer", int(customer_id)) if customer_id is not None else ("invoice", int(invoice_id or 0))
    connection = transaction.get_connection()
    if not any(func is _flush for _, func, _ in connection.run_on_commit):
        # No flush waits in this transaction: whatever a rolled-back one left behind is void.
        connection.__dict__[_PENDING] = {key}
        transaction.on_commit(_flush, robust=True)
    else:
        connection.__dict__[_PENDING].add(key)


def _flush() -> None:
    connection = transaction.get_connection()
    pending = connection.__dict__.pop(_PENDING, set())
    customers = {i for kind, i in pending if kind == "customer"}
    invoices = [i for kind, i in pending if kind == "invoice"]
    if invoices:
        from recoup.ledger.models import Invoice

        customers.update(Invoice.objects.filter(pk__in=invoices).values_list("customer_id", flat=True))
    if customers:
        from recoup.insights.tasks import rescore_customers

        rescore_customers.delay(sorted(customers))
