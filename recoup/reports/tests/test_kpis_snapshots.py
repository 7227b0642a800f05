"""kpis() takes begin and end AR from the stored month-end snapshots only while they are the ledger's answer:
built in the base currency and with nothing dated on or before the month-end changed since (the ledger's
watermark, LedgerRevision). A backdated payment, a rate set later for an earlier day, a snapshot built before
the watermark existed: the KPIs age the ledger again, and every figure stays the ledger's to the cent.

The ledger is test_snapshots.py's (hand-worked there): the first quarter of 2026 begins with 1,400.00 open at
the end of 2025-12-31 and ends with 2,800.02 at the end of 2026-03-31 (50.00 current, 300.00 over 90 days,
EUR at 1.25 from 2026-03-20).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from recoup.ledger import services
from recoup.ledger.aging import aging_report
from recoup.ledger.models import Customer
from recoup.ledger.selectors import RateUsed
from recoup.reports import snapshots
from recoup.reports.models import AgingSnapshotMonth
from recoup.reports.selectors import KpiReport, kpis
from recoup.reports.tests.test_snapshots import TODAY, make_ledger, make_people

pytestmark = pytest.mark.django_db
D = dt.date
Q1 = {"start": D(2026, 1, 1), "end": D(2026, 3, 31)}
BEGIN, END = D(2025, 12, 31), D(2026, 3, 31)


@pytest.fixture(autouse=True)
def today():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def ledger(books, settings):
    return make_ledger(books, make_people(), settings)


def measured(**params: object) -> tuple[KpiReport, bool]:
    """The KPIs, and whether the ledger was aged for them: every aging reads the allocations (at least to
    choose its path), and no other query of the KPIs does."""
    with CaptureQueriesContext(connection) as captured:
        report = kpis(**params)  # type: ignore[arg-type]
    return report, any("ledger_allocation" in query["sql"] for query in captured.captured_queries)


def late_payment(ledger, date: dt.date) -> None:
    """E1's remaining 700 EUR, recorded today (2026-04-15) and dated `date`."""
    services.payment_create(
        actor=None,
        customer=ledger["euro"],
        external_id=f"LATE-{date}",
        date=date,
        amount=Decimal("700.00"),
        apply_to=[services.Application(ledger["e1"], Decimal("700.00"))],
    )


def test_current_snapshots_give_the_ledgers_kpis_to_the_cent_without_aging_it(ledger):
    from_ledger, aged = measured(**Q1)
    assert aged  # nothing stored yet
    snapshots.rebuild(4, through=END)

    stored, aged = measured(**Q1)

    assert not aged
    assert stored == from_ledger  # every amount, the countback's months and the rates
    assert stored.as_dict() == from_ledger.as_dict()
    assert (stored.begin_ar, stored.end_ar, stored.end_current_ar, stored.end_over_90_ar) == (
        Decimal("1400.00"),
        Decimal("2800.02"),
        Decimal("50.00"),
        Decimal("300.00"),
    )
    assert (stored.begin_rates, stored.end_rates) == ((), (RateUsed("EUR", Decimal("1.25"), D(2026, 3, 20)),))


def test_a_backdated_payment_makes_the_month_end_stale_until_it_is_rebuilt(ledger):
    snapshots.rebuild(4, through=END)
    late_payment(ledger, D(2026, 3, 30))  # E1's 700 EUR (875.00 USD at the month-end) paid in March

    assert set(snapshots.current_month_ends([BEGIN, END])) == {BEGIN}  # 2025-12-31 is still the ledger's
    [as_reported] = snapshots.month_end_totals([END])
    stale, aged = measured(**Q1)

    assert as_reported.total == Decimal("2800.02")  # the stored close, as reported
    assert aged
    assert (stale.begin_ar, stale.end_ar) == (Decimal("1400.00"), Decimal("1925.02"))  # the ledger's

    snapshots.rebuild(1, through=END)
    rebuilt, aged = measured(**Q1)
    assert not aged
    assert rebuilt == stale


def test_a_payment_dated_after_the_month_end_leaves_it_current(ledger):
    snapshots.rebuild(4, through=END)
    late_payment(ledger, D(2026, 4, 2))

    report, aged = measured(**Q1)

    assert not aged
    assert report.end_ar == Decimal("2800.02") == aging_report(as_of=END, by="total").total.total


def test_a_rate_set_later_for_a_day_before_the_month_end_makes_it_stale(ledger):
    snapshots.rebuild(4, through=END)
    services.fx_rate_set(actor=None, currency="EUR", date=D(2026, 3, 25), rate=Decimal("1.30"))

    report, aged = measured(**Q1)

    assert aged
    # At 1.30: E1 700 EUR = 910.00, E2 200.01 EUR = 260.013 → 260.01, M1 100.01 EUR = 130.013 → 130.01;
    # with A2 400, A3 300, A4 800 and M2 50 USD: 2,850.02.
    assert report.end_ar == Decimal("2850.02")
    assert report.end_rates == (RateUsed("EUR", Decimal("1.30"), D(2026, 3, 25)),)


@pytest.mark.parametrize(
    "unfit", [{"ledger_revision": None}, {"currency": "EUR"}], ids=["before-the-watermark", "other-currency"]
)
def test_a_snapshot_without_the_watermark_or_in_another_base_currency_is_not_used(ledger, unfit):
    snapshots.rebuild(4, through=END)
    from_snapshots, _ = measured(**Q1)
    AgingSnapshotMonth.objects.update(**unfit)

    report, aged = measured(**Q1)

    assert aged
    assert report == from_snapshots
    assert snapshots.current_month_ends([BEGIN, END]) == {}


def test_kpis_of_some_customers_always_age_the_ledger(ledger):
    snapshots.rebuild(4, through=END)
    everyone = list(Customer.objects.values_list("id", flat=True))

    report, aged = measured(**Q1, customer_ids=everyone)

    assert aged
    assert report == kpis(**Q1)


def test_a_day_that_is_not_a_month_end_is_aged_from_the_ledger(ledger):
    snapshots.rebuild(4, through=END)

    report, aged = measured(start=D(2026, 1, 1), end=D(2026, 3, 30))

    assert aged
    assert report.begin_ar == Decimal("1400.00")
    assert report.end_ar == aging_report(as_of=D(2026, 3, 30), by="total").total.total
