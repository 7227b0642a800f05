"""IBM "Accounts Receivable" sample -> disputes, through the dispute services (load.sh runs it).

    IBM_AR_CSV=FILE IBM_AR_PHASE=open|resolve [IBM_AR_DRY_RUN=--dry-run] recoup shell -c \
        "import runpy; runpy.run_path('docs/examples/ibm_ar/disputes.py', run_name='__main__')"

The sample's `Disputed` column says only *that* an invoice was disputed, not when. Each "Yes" becomes a
dispute of the whole invoice (reason "other") opened on the invoice date, as if the customer contested it on
receipt: phase `open`, before the payments are imported (a settled invoice has nothing left to dispute).
Phase `resolve`, after them, resolves each with the outcome "customer paid" on the invoice's SettledDate.
Both phases skip what is already done, so load.sh stays safe to run twice.
"""

from __future__ import annotations

import csv
import datetime as dt
import os

from django.db import transaction

from recoup.disputes import services
from recoup.disputes.defaults import install_reasons
from recoup.disputes.models import ACTIVE_STATUSES, Dispute
from recoup.ledger.models import Invoice


def _date(text: str) -> dt.date:
    return dt.datetime.strptime(text, "%m/%d/%Y").date()


def main(path: str, phase: str, dry_run: bool) -> None:
    with open(path, newline="", encoding="ascii") as handle:
        disputed = [row for row in csv.DictReader(handle) if row["Disputed"].strip() == "Yes"]
    invoices = Invoice.objects.in_bulk([row["invoiceNumber"] for row in disputed], field_name="external_id")
    done = skipped = 0
    with transaction.atomic():  # one transaction: one rescoring of the customers at its end
        install_reasons()
        for row in disputed:
            invoice = invoices.get(row["invoiceNumber"])
            if invoice is None:
                skipped += 1
                continue
            if phase == "open":
                if Dispute.objects.filter(invoice=invoice).exists() or invoice.open_amount <= 0:
                    skipped += 1
                    continue
                if not dry_run:
                    services.dispute_open(
                        actor=None,
                        invoice=invoice,
                        reason="other",
                        note="Disputed (IBM sample)",
                        opened_on=_date(row["InvoiceDate"]),
                    )
            else:
                active = Dispute.objects.filter(invoice=invoice, status__in=ACTIVE_STATUSES).first()
                if active is None or not row["SettledDate"].strip():
                    skipped += 1
                    continue
                if not dry_run:
                    services.dispute_resolve(
                        actor=None,
                        dispute=active,
                        outcome="customer_paid",
                        resolved_on=_date(row["SettledDate"]),
                    )
            done += 1
        if dry_run:
            transaction.set_rollback(True)
    verb = {"open": "opened", "resolve": "resolved"}[phase]
    print(f"disputes: {done} {'to be ' if dry_run else ''}{verb}, {skipped} skipped (done, or not loaded)")


if __name__ == "__main__":
    main(
        os.environ["IBM_AR_CSV"], os.environ["IBM_AR_PHASE"], os.environ.get("IBM_AR_DRY_RUN") == "--dry-run"
    )
