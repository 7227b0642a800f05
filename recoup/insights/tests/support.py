"""Small ledgers for the insights tests: as arrays (for the pure modules) and in the database (through the
ledger and dispute services). Both are seeded, so every run builds the same ledger."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from recoup.insights.features import NEVER, Facts, first_settled
from recoup.insights.models import ForecastRecord
from recoup.ledger import services as ledger
from recoup.ledger.models import Customer, Invoice

D = dt.date


def o(day: dt.date) -> int:
    return day.toordinal()


def facts_from(
    invoices: list[tuple[int, dt.date, dt.date, float, dt.date | None]],
    *,
    disputes: list[tuple[int, dt.date, dt.date | None, float]] = (),  # type: ignore[assignment]
    broken: list[tuple[int, dt.date]] = (),  # type: ignore[assignment]
    limits: dict[int, float] | None = None,
    partials: list[tuple[int, dt.date, float]] = (),  # type: ignore[assignment]
) -> Facts:
    """Facts from rows (customer, issue, due, amount, paid in full on). Disputes are (invoice index, opened,
    resolved, amount), broken promises (customer, known from), partial payments (invoice index, date,
    amount), each paid in full on its date otherwise."""
    n = len(invoices)
    alloc = [(i, o(paid), amount) for i, (_, _, _, amount, paid) in enumerate(invoices) if paid is not None]
    paid_before = {i: sum(a for j, _, a in partials if j == i) for i in range(n)}
    alloc = [(i, day, amount - paid_before[i]) for i, day, amount in alloc] + [
        (i, o(d), a) for i, d, a in partials
    ]
    a_inv = np.array([a[0] for a in alloc], dtype=np.int64)
    a_date = np.array([a[1] for a in alloc], dtype=np.int64)
    a_amount = np.array([a[2] for a in alloc], dtype=np.float64)
    amounts = np.array([row[3] for row in invoices], dtype=np.float64)
    limits = limits or {}
    ids = sorted(limits)
    return Facts(
        inv_id=np.arange(1, n + 1, dtype=np.int64),
        inv_customer=np.array([row[0] for row in invoices], dtype=np.int64),
        inv_issue=np.array([o(row[1]) for row in invoices], dtype=np.int64),
        inv_due=np.array([o(row[2]) for row in invoices], dtype=np.int64),
        inv_amount=amounts,
        inv_settled=first_settled(invoice=a_inv, date=a_date, amount=a_amount, invoice_amount=amounts),
        alloc_invoice=a_inv,
        alloc_date=a_date,
        alloc_amount=a_amount,
        dsp_invoice=np.array([d[0] for d in disputes], dtype=np.int64),
        dsp_opened=np.array([o(d[1]) for d in disputes], dtype=np.int64),
        dsp_resolved=np.array([o(d[2]) if d[2] else NEVER for d in disputes], dtype=np.int64),
        dsp_amount=np.array([d[3] for d in disputes], dtype=np.float64),
        brk_customer=np.array([b[0] for b in broken], dtype=np.int64),
        brk_known=np.array([o(b[1]) for b in broken], dtype=np.int64),
        limit_customer=np.array(ids, dtype=np.int64),
        limit_amount=np.array([limits[c] for c in ids], dtype=np.float64),
    )


START = D(2024, 1, 1)


def synthetic_facts(
    *, seed: int = 0, customers: int = 8, invoices: int = 400, start: dt.date = START, days: int = 500
) -> Facts:
    """A ledger with structure a model can find: each customer pays at its own delay after the due date,
    disputed invoices (one in six, disputed on the day they are issued) 20 days later still; 30-day terms.
    Integer amounts, so every sum is exact. Invoices settling after start + days stay open."""
    rng = np.random.default_rng(seed)
    delay = np.resize(np.array([-5, 0, 8, 25, 45]), customers)  # customer c pays delay[c - 1] days late
    cust = rng.integers(1, customers + 1, size=invoices)
    issue = o(start) + np.sort(rng.integers(0, days, size=invoices))
    due = issue + 30
    amount = rng.integers(50, 5000, size=invoices).astype(np.float64)
    disputed = rng.random(invoices) < 1 / 6
    settle = due + delay[cust - 1] + rng.integers(-3, 4, size=invoices) + 20 * disputed
    settle = np.maximum(settle, issue)
    end = o(start) + days
    paid = settle <= end
    idx = np.arange(invoices)
    a_inv, a_date, a_amount = idx[paid], settle[paid], amount[paid]
    d_idx = idx[disputed]
    return Facts(
        inv_id=idx + 1,
        inv_customer=cust.astype(np.int64),
        inv_issue=issue.astype(np.int64),
        inv_due=due.astype(np.int64),
        inv_amount=amount,
        inv_settled=first_settled(invoice=a_inv, date=a_date, amount=a_amount, invoice_amount=amount),
        alloc_invoice=a_inv.astype(np.int64),
        alloc_date=a_date.astype(np.int64),
        alloc_amount=a_amount,
        dsp_invoice=d_idx.astype(np.int64),
        dsp_opened=issue[d_idx].astype(np.int64),  # contested on receipt: known at issue
        dsp_resolved=np.where(settle[d_idx] <= end, settle[d_idx], NEVER).astype(np.int64),
        dsp_amount=amount[d_idx],
    )


@dataclass
class Book:
    customers: list[Customer]
    invoices: list[Invoice]


# Each customer's delay after the due date, in days, by its index (a prompt, a slow and a late payer).
DELAYS = (-4, 12, 40)


def build_ledger(
    *, today: dt.date, customers: int = 3, per_customer: int = 14, seed: int = 3, open_last: int = 2
) -> Book:
    """Customers CUST-0.. with 30-day terms, each paying its invoices DELAYS[i] days after the due date
    (± 2), every 12 days from 200 days before `today`; the last `open_last` invoices of each are left open.
    Through the ledger services, dated so that every payment is on or before `today`."""
    rng = random.Random(seed)
    book = Book([], [])
    for c in range(customers):
        customer = ledger.customer_create(
            actor=None,
            external_id=f"CUST-{c}",
            name=f"Customer {c}",
            payment_terms_days=30,
            credit_limit=Decimal(20_000),
        )
        book.customers.append(customer)
        for k in range(per_customer):
            issue = today - dt.timedelta(days=200 - 12 * k)
            invoice = ledger.invoice_create(
                actor=None,
                customer=customer,
                external_id=f"INV-{c}-{k}",
                issue_date=issue,
                due_date=issue + dt.timedelta(days=30),
                amount=Decimal(rng.randrange(100, 2000)),
            )
            book.invoices.append(invoice)
            paid_on = invoice.due_date + dt.timedelta(days=DELAYS[c % len(DELAYS)] + rng.randint(-2, 2))
            if k < per_customer - open_last and paid_on <= today:
                ledger.payment_create(
                    actor=None,
                    customer=customer,
                    external_id=f"PAY-{c}-{k}",
                    date=max(paid_on, issue),
                    amount=invoice.amount,
                    apply_to=[ledger.Application(invoice=invoice)],
                )
    return book


def keep_forecast(made_on: dt.date, amounts: list[str], *, currency: str = "USD") -> None:
    """A kept forecast made on `made_on` (week k from the day after it), the weeks' expected `amounts`, each
    with a band of ± 10."""
    for k, amount in enumerate(amounts):
        start = made_on + dt.timedelta(days=1 + 7 * k)
        ForecastRecord.objects.create(
            made_on=made_on,
            week=k + 1,
            start=start,
            end=start + dt.timedelta(days=6),
            currency=currency,
            expected=Decimal(amount),
            low=Decimal(amount) - 10,
            high=Decimal(amount) + 10,
        )
