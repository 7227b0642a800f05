from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory

from recoup.ledger.models import Customer, Invoice


class CustomerFactory(factory.django.DjangoModelFactory[Customer]):
    class Meta:
        model = Customer

    external_id = factory.Sequence(lambda n: f"C{n:05d}")
    name = factory.Sequence(lambda n: f"Customer {n}")
    currency = "USD"


class InvoiceFactory(factory.django.DjangoModelFactory[Invoice]):
    """An open invoice. Use the services to settle it, so the kept balances stay true."""

    class Meta:
        model = Invoice

    external_id = factory.Sequence(lambda n: f"INV{n:06d}")
    customer = factory.SubFactory(CustomerFactory)
    issue_date = dt.date(2026, 1, 1)
    due_date = factory.LazyAttribute(lambda o: o.issue_date + dt.timedelta(days=30))
    amount = Decimal("100.00")
    currency = factory.LazyAttribute(lambda o: o.customer.currency)
    open_amount = factory.LazyAttribute(lambda o: o.amount)
