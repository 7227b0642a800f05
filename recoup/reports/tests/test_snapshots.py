"""Month-end aging snapshots of a hand-built ledger: partial payments, a credit note, a write-off, a reversed
allocation and EUR invoices at rates of three dates, for customers of two collectors in two teams, three
segments and two currencies. Every stored figure is worked out by hand below, and equals aging_report's for
every month-end and scope; a rebuild gives identical rows and picks up a backdated payment.

The ledger (USD base; each invoice is issued 30 days before its due date; EUR→USD 1.10 from 2025-12-01, 1.20
from 2026-02-01, 1.25 from 2026-03-20):

| customer (currency, collector, segment) | invoice | due        | amount      | what happens                |
|-----------------------------------------|---------|------------|-------------|-----------------------------|
| ACME (USD, ann/North, Enterprise)       | A1      | 2025-12-15 | 1000 USD    | 400 paid 12-20, 600 01-10   |
|                                         | A2      | 2026-01-09 |  500 USD    | credit note 100 on 02-05    |
|                                         | A3      | 2025-10-31 |  300 USD    | never paid                  |
|                                         | A4      | 2026-02-14 |  800 USD    | paid 02-10, reversed 03-05  |
| EURO (EUR, bob/South, Retail)           | E1      | 2026-02-19 | 1000 EUR    | 300 paid 2026-02-25         |
|                                         | E2      | 2026-03-17 |  200.01 EUR | open                        |
| MIX (USD, no collector, no segment)     | M1      | 2026-03-17 |  100.01 EUR | open                        |
|                                         | M2      | 2026-04-30 |   50 USD    | open                        |
| GLOBEX (USD, ann/North, Retail)         | G1      | 2026-01-31 |  250 USD    | written off 2026-02-20      |
"""

from __future__ import annotations

import datetime as dt
import io
import threading
from decimal import Decimal

import pytest
import time_machine
from celery.schedules import crontab
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from recoup.core.errors import DomainError
from recoup.ledger import services
from recoup.ledger.aging import aging_report
from recoup.ledger.models import Allocation
from recoup.reports import snapshots, tasks
from recoup.reports.models import BUCKET_FIELDS, AgingSnapshot, AgingSnapshotMonth
from recoup.reports.scope import Scope
from recoup.users.models import Role, Team, User

pytestmark = pytest.mark.django_db
D = dt.date
ENDS = [D(2025, 12, 31), D(2026, 1, 31), D(2026, 2, 28), D(2026, 3, 31)]
TODAY = dt.datetime(2026, 4, 15, 12, 0, tzinfo=dt.UTC)


def amounts(*values: str) -> tuple[Decimal, ...]:
    return tuple(Decimal(v) for v in values)


@pytest.fixture(autouse=True)
def today():
    with time_machine.travel(TODAY, tick=False):
        yield


def make_people() -> dict[str, object]:
    """Ann collects for North, Bob for South (test_exports.py builds the same ledger)."""
    north, south = Team.objects.create(name="North"), Team.objects.create(name="South")
    ann = User.objects.create_user("ann", role=Role.COLLECTOR, team=north)
    bob = User.objects.create_user("bob", role=Role.COLLECTOR, team=south)
    return {"ann": ann, "bob": bob, "north": north, "south": south}


def make_ledger(books, people, settings) -> dict[str, object]:
    """The ledger of the table above, through the ledger services."""
    settings.BASE_CURRENCY = "USD"
    for date, rate in ((D(2025, 12, 1), "1.10"), (D(2026, 2, 1), "1.20"), (D(2026, 3, 20), "1.25")):
        services.fx_rate_set(actor=None, currency="EUR", date=date, rate=Decimal(rate))
    acme = books.customer("ACME", collector=people["ann"], segment="Enterprise")
    euro = books.customer("EURO", currency="EUR", collector=people["bob"], segment="Retail")
    mix = books.customer("MIX")
    globex = books.customer("GLOBEX", collector=people["ann"], segment="Retail")
    a1 = books.invoice(acme, D(2025, 12, 15), "1000.00", external_id="A1")
    a2 = books.invoice(acme, D(2026, 1, 9), "500.00", external_id="A2")
    books.invoice(acme, D(2025, 10, 31), "300.00", external_id="A3")
    a4 = books.invoice(acme, D(2026, 2, 14), "800.00", external_id="A4")
    e1 = books.invoice(euro, D(2026, 2, 19), "1000.00", external_id="E1")
    books.invoice(euro, D(2026, 3, 17), "200.01", external_id="E2")
    books.invoice(mix, D(2026, 3, 17), "100.01", currency="EUR", external_id="M1")
    books.invoice(mix, D(2026, 4, 30), "50.00", external_id="M2")
    g1 = books.invoice(globex, D(2026, 1, 31), "250.00", external_id="G1")
    books.pay(a1, "400.00", D(2025, 12, 20))
    books.pay(a1, "600.00", D(2026, 1, 10))
    books.credit(a2, "100.00", D(2026, 2, 5))
    books.pay(a4, "800.00", D(2026, 2, 10))
    services.allocation_reverse(
        actor=None, allocation=Allocation.objects.get(invoice=a4, reverses=None), date=D(2026, 3, 5)
    )
    books.pay(e1, "300.00", D(2026, 2, 25))
    services.write_off_create(actor=None, invoice=g1, amount=Decimal("250.00"), date=D(2026, 2, 20))
    return {"e1": e1, "euro": euro, "acme": acme, **people}


@pytest.fixture
def ledger(books, settings):
    return make_ledger(books, make_people(), settings)


def stored(month_end: dt.date) -> list[tuple]:
    """A month-end's rows as (collector, currency, customer currency, segment, six buckets, total, count)."""
    rows = [
        (
            (r.collector.username if r.collector else None),
            r.currency,
            r.customer_currency,
            r.segment,
            *(getattr(r, name) for name in BUCKET_FIELDS),
            r.total,
            r.open_invoices,
        )
        for r in AgingSnapshot.objects.filter(month_end=month_end).select_related("collector")
    ]
    return sorted(rows, key=lambda row: (row[0] is None, row[0] or "", row[1:4]))


def without_build_time() -> list[tuple]:
    return [
        row[:-1]
        for row in AgingSnapshot.objects.order_by(
            "month_end", "collector_id", "currency", "customer_currency", "segment"
        ).values_list(
            "month_end",
            "collector_id",
            "currency",
            "customer_currency",
            "segment",
            *BUCKET_FIELDS,
            "total",
            "open_invoices",
            "built_at",
        )
    ]


# The stored figures, by hand -----------------------------------------------------------------------------


def test_each_month_end_is_stored_per_collector_currency_and_segment_with_the_hand_worked_figures(ledger):
    built = snapshots.rebuild(4, through=D(2026, 3, 31))

    assert [(b.month_end, b.rows, b.total) for b in built] == [
        (D(2025, 12, 31), 1, Decimal("1400.00")),
        (D(2026, 1, 31), 3, Decimal("2950.00")),
        (D(2026, 2, 28), 3, Decimal("1900.02")),
        (D(2026, 3, 31), 4, Decimal("2800.02")),
    ]
    #                         current  1-30   31-60  61-90  91-120  120+  total  count
    # 2025-12-31: A1 600 open (16 days), A2 500 current, A3 300 (61 days). Nothing in EUR yet.
    assert stored(D(2025, 12, 31)) == [
        ("ann", "USD", "USD", "Enterprise", *amounts("500", "600", "0", "300", "0", "0", "1400"), 3),
    ]
    # 2026-01-31: A1 settled on 01-10; A2 500 (22 days), A3 300 (92), A4 800 current; E1 1000 EUR current
    # × 1.10 = 1100.00; G1 250 due that day (0 days: current).
    assert stored(D(2026, 1, 31)) == [
        ("ann", "USD", "USD", "Enterprise", *amounts("800", "500", "0", "0", "300", "0", "1600"), 3),
        ("ann", "USD", "USD", "Retail", *amounts("250", "0", "0", "0", "0", "0", "250"), 1),
        ("bob", "EUR", "EUR", "Retail", *amounts("1100", "0", "0", "0", "0", "0", "1100"), 1),
    ]
    # 2026-02-28 at 1.20: A2 400 after the credit note (50 days), A3 300 (120 days: still 91-120), A4 paid
    # (the reversal comes later); E1 700 EUR (9 days) = 840.00, E2 200.01 EUR current = 240.012 → 240.01;
    # MIX's M1 100.01 EUR current = 120.012 → 120.01, in EUR for a USD customer; G1 written off.
    assert stored(D(2026, 2, 28)) == [
        ("ann", "USD", "USD", "Enterprise", *amounts("0", "0", "400", "0", "300", "0", "700"), 2),
        ("bob", "EUR", "EUR", "Retail", *amounts("240.01", "840", "0", "0", "0", "0", "1080.01"), 2),
        (None, "EUR", "USD", "", *amounts("120.01", "0", "0", "0", "0", "0", "120.01"), 1),
    ]
    # 2026-03-31 at 1.25: A2 400 (81 days), A3 300 (151), A4 800 reopened (45); E1 700 EUR (40 days) = 875.00,
    # E2 (14 days) 250.0125 → 250.01; M1 (14 days) 125.0125 → 125.01 and M2 50 USD current. Each customer's
    # sum is rounded on its own, as aging does: 250.01 + 125.01 = 375.02, not round(375.025) = 375.03.
    assert stored(D(2026, 3, 31)) == [
        ("ann", "USD", "USD", "Enterprise", *amounts("0", "0", "800", "400", "0", "300", "1500"), 3),
        ("bob", "EUR", "EUR", "Retail", *amounts("0", "250.01", "875", "0", "0", "0", "1125.01"), 2),
        (None, "EUR", "USD", "", *amounts("0", "125.01", "0", "0", "0", "0", "125.01"), 1),
        (None, "USD", "USD", "", *amounts("50", "0", "0", "0", "0", "0", "50"), 1),
    ]
    rates = {m.month_end: m.rates for m in AgingSnapshotMonth.objects.all()}
    assert rates == {
        D(2025, 12, 31): [],
        D(2026, 1, 31): [{"currency": "EUR", "rate": "1.1000000000", "date": "2025-12-01"}],
        D(2026, 2, 28): [{"currency": "EUR", "rate": "1.2000000000", "date": "2026-02-01"}],
        D(2026, 3, 31): [{"currency": "EUR", "rate": "1.2500000000", "date": "2026-03-20"}],
    }


def test_month_end_totals_per_scope_are_the_hand_worked_sums(ledger):
    north, south = ledger["north"].pk, ledger["south"].pk

    def totals(scope: Scope) -> list[tuple[Decimal | int, ...]]:
        return [(*m.buckets, m.total, m.open_invoices) for m in snapshots.month_end_totals([ENDS[3]], scope)]

    assert totals(Scope()) == [(*amounts("50", "375.02", "1675", "400", "0", "300", "2800.02"), 7)]
    assert totals(Scope(team_id=north)) == [(*amounts("0", "0", "800", "400", "0", "300", "1500"), 3)]
    assert totals(Scope(team_id=south)) == [(*amounts("0", "250.01", "875", "0", "0", "0", "1125.01"), 2)]
    # The currency filter is the customer's, as Scope says: MIX's EUR invoice counts with the USD customers.
    assert totals(Scope(currency="USD")) == [
        (*amounts("50", "125.01", "800", "400", "0", "300", "1675.01"), 5)
    ]
    assert totals(Scope(segment="Retail")) == [(*amounts("0", "250.01", "875", "0", "0", "0", "1125.01"), 2)]
    assert totals(Scope(collector_id=ledger["ann"].pk, segment="Retail")) == [(*amounts(*["0"] * 7), 0)]


def test_every_month_end_equals_aging_report_bucket_by_bucket_for_every_scope(ledger):
    ann, bob, north, south = (ledger[k].pk for k in ("ann", "bob", "north", "south"))
    scopes = [
        Scope(),
        Scope(collector_id=ann),
        Scope(collector_id=bob),
        Scope(team_id=north),
        Scope(team_id=south),
        Scope(currency="USD"),
        Scope(currency="EUR"),
        Scope(segment="Enterprise"),
        Scope(segment="Retail"),
        Scope(collector_id=ann, segment="Retail"),
        Scope(team_id=north, currency="USD", segment="Enterprise"),
    ]
    for scope in scopes:
        for month in snapshots.month_end_totals(ENDS, scope):
            report = aging_report(as_of=month.month_end, by="total", customer_ids=scope.customer_ids())
            assert (month.buckets, month.total) == (report.total.buckets, report.total.total), (scope, month)
            assert month.labels == report.labels
            assert list(month.rates) == report.rates


# Rebuilding ------------------------------------------------------------------------------------------------


def test_rebuilding_gives_identical_rows(ledger):
    snapshots.rebuild(4, through=D(2026, 3, 31))
    first = without_build_time()
    first_built = set(AgingSnapshot.objects.values_list("built_at", flat=True))

    with time_machine.travel(TODAY + dt.timedelta(hours=1), tick=False):
        snapshots.rebuild(4, through=D(2026, 3, 31))
        snapshots.snapshot_month_end(D(2026, 2, 28))

    assert without_build_time() == first
    assert len(first) == 11
    assert set(AgingSnapshot.objects.values_list("built_at", flat=True)).isdisjoint(first_built)
    assert AgingSnapshotMonth.objects.count() == 4


def test_a_backdated_payment_changes_the_ledger_and_a_rebuild_but_not_the_stored_close(ledger):
    snapshots.rebuild(1, through=D(2026, 3, 31))
    # Recorded on 2026-04-15, dated 2026-03-30: E1's 700 EUR (875.00 USD at the month-end) were paid in March.
    services.payment_create(
        actor=None,
        customer=ledger["euro"],
        external_id="LATE",
        date=D(2026, 3, 30),
        amount=Decimal("700.00"),
        apply_to=[services.Application(ledger["e1"], Decimal("700.00"))],
    )

    [as_reported] = snapshots.month_end_totals([D(2026, 3, 31)])
    assert as_reported.total == Decimal("2800.02")  # the close as reported
    assert aging_report(as_of=D(2026, 3, 31), by="total").total.total == Decimal("1925.02")

    snapshots.rebuild(1, through=D(2026, 3, 31))

    [rebuilt] = snapshots.month_end_totals([D(2026, 3, 31)])
    assert rebuilt.buckets == amounts("50", "375.02", "800", "400", "0", "300")
    assert rebuilt.total == Decimal("1925.02") == aging_report(as_of=D(2026, 3, 31), by="total").total.total
    assert (
        "bob",
        "EUR",
        "EUR",
        "Retail",
        *amounts("0", "250.01", "0", "0", "0", "0", "250.01"),
        1,
    ) in stored(D(2026, 3, 31))


def test_the_collector_and_segment_are_those_of_the_build_until_a_rebuild(ledger):
    snapshots.rebuild(1, through=D(2026, 3, 31))
    services.customer_update(actor=None, customer=ledger["acme"], collector=ledger["bob"], segment="Retail")

    [then] = snapshots.month_end_totals([D(2026, 3, 31)], Scope(collector_id=ledger["ann"].pk))
    assert then.total == Decimal("1500.00")  # ACME was Ann's when the month-end was stored

    snapshots.rebuild(1, through=D(2026, 3, 31))

    [now] = snapshots.month_end_totals([D(2026, 3, 31)], Scope(collector_id=ledger["ann"].pk))
    [bobs] = snapshots.month_end_totals([D(2026, 3, 31)], Scope(collector_id=ledger["bob"].pk))
    assert (now.total, bobs.total) == (Decimal("0.00"), Decimal("2625.01"))


# Reading ---------------------------------------------------------------------------------------------------


def test_a_missing_month_end_is_built_on_the_fly_and_stored_then_read_in_two_queries(ledger):
    snapshots.snapshot_month_end(D(2026, 1, 31))
    assert list(AgingSnapshotMonth.objects.values_list("month_end", flat=True)) == [D(2026, 1, 31)]

    trend = snapshots.month_end_totals(ENDS, Scope(team_id=ledger["north"].pk))

    assert [(m.month_end, m.total) for m in trend] == [
        (D(2025, 12, 31), Decimal("1400.00")),
        (D(2026, 1, 31), Decimal("1850.00")),
        (D(2026, 2, 28), Decimal("700.00")),
        (D(2026, 3, 31), Decimal("1500.00")),
    ]
    assert list(AgingSnapshotMonth.objects.values_list("month_end", flat=True)) == ENDS
    with CaptureQueriesContext(connection) as queries:
        again = snapshots.month_end_totals(ENDS, Scope(team_id=ledger["north"].pk))
    assert again == trend
    assert len(queries) == 2


def test_a_month_end_without_open_ar_is_stored_empty_and_never_built_again(ledger):
    # 2025-10-31: only A3 (issued 10-01) is out, due that very day; by 2025-08-31 nothing was issued yet.
    [empty] = snapshots.month_end_totals([D(2025, 10, 31)])
    assert (empty.buckets, empty.total, empty.open_invoices) == (
        amounts("300", *["0"] * 5),
        Decimal("300"),
        1,
    )
    [nothing] = snapshots.month_end_totals([D(2025, 8, 31)])
    assert (nothing.total, nothing.open_invoices, nothing.rates) == (Decimal("0.00"), 0, ())
    assert not AgingSnapshot.objects.filter(month_end=D(2025, 8, 31)).exists()
    with CaptureQueriesContext(connection) as queries:
        snapshots.month_end_totals([D(2025, 8, 31)])
    assert len(queries) == 2


def test_trend_is_the_last_closed_month_ends_oldest_first(ledger):
    trend = snapshots.trend(3)

    assert [(m.month_end, m.total) for m in trend] == [
        (D(2026, 1, 31), Decimal("2950.00")),
        (D(2026, 2, 28), Decimal("1900.02")),
        (D(2026, 3, 31), Decimal("2800.02")),
    ]
    assert trend[-1].overdue == Decimal("2750.02")


# Refusals --------------------------------------------------------------------------------------------------


def test_a_month_that_has_not_closed_and_a_day_that_is_not_a_month_end_are_refused(ledger):
    with pytest.raises(
        DomainError, match=r"^The month ending 2026-04-30 has not closed yet \(today is 2026-04-15\)\.$"
    ):
        snapshots.snapshot_month_end(D(2026, 4, 30))
    with pytest.raises(DomainError, match=r"^2026-03-30 is not the last day of a month\.$"):
        snapshots.month_end_totals([D(2026, 3, 30)])
    with pytest.raises(DomainError, match="has not closed yet"):
        snapshots.rebuild(2, through=D(2026, 4, 30))
    assert not AgingSnapshotMonth.objects.exists() and not AgingSnapshot.objects.exists()


def test_open_ar_in_a_currency_without_a_rate_yet_is_refused_and_nothing_is_stored(books, settings):
    settings.BASE_CURRENCY = "USD"
    services.fx_rate_set(actor=None, currency="EUR", date=D(2025, 12, 1), rate=Decimal("1.10"))
    euro = books.customer("EURO", currency="EUR")
    books.invoice(euro, D(2025, 12, 10), "100.00", external_id="E-NOV")  # issued 2025-11-10
    paid = books.invoice(euro, D(2025, 10, 1), "50.00", external_id="E-PAID")
    books.pay(paid, "50.00", D(2025, 9, 15))

    with pytest.raises(DomainError, match=r"^No EUR→USD rate is dated on or before 2025-11-30\.$"):
        snapshots.rebuild(2, through=D(2025, 12, 31))
    with pytest.raises(DomainError, match="No EUR→USD rate"):
        aging_report(as_of=D(2025, 11, 30))

    assert not AgingSnapshotMonth.objects.exists() and not AgingSnapshot.objects.exists()
    # A month-end whose EUR invoices were all settled needs no EUR rate, as in aging.
    [october] = snapshots.month_end_totals([D(2025, 10, 31)])
    assert october.total == Decimal("0.00")


def test_a_build_is_a_fixed_number_of_queries_whatever_the_ledger(ledger, books):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            snapshots.rebuild(4, through=D(2026, 3, 31))
        return len(queries)

    snapshots.rebuild(4, through=D(2026, 3, 31))  # the month-ends' own rows exist from now on
    small = count()
    acme = ledger["acme"]
    for n in range(20):
        books.pay(books.invoice(acme, D(2026, 1, 20), "10.00", external_id=f"X{n}"), "4.00", D(2026, 2, 1))

    assert count() == small


# The command and the beat task ------------------------------------------------------------------------------


def test_command_rebuilds_and_prints_each_month_end(ledger):
    out = io.StringIO()
    call_command("reports", "snapshots", "--months", "4", "--through", "2026-04-10", stdout=out)

    lines = out.getvalue().splitlines()
    assert [line.split() for line in lines[:4]] == [
        ["2025-12-31", "1", "row", "1,400.00", "USD"],
        ["2026-01-31", "3", "rows", "2,950.00", "USD"],
        ["2026-02-28", "3", "rows", "1,900.02", "USD"],
        ["2026-03-31", "4", "rows", "2,800.02", "USD"],
    ]
    assert lines[4].startswith("Rebuilt 4 month-end snapshots (2025-12-31 to 2026-03-31) in ")
    assert len(lines) == 5


def test_command_refuses_bad_arguments_with_a_message(ledger):
    with pytest.raises(CommandError, match=r"argument --through: '2026-02-30' is not a date"):
        call_command("reports", "snapshots", "--through", "2026-02-30")
    with pytest.raises(CommandError, match=r"argument --months: '0' is not between 1 and 600"):
        call_command("reports", "snapshots", "--months", "0")
    with pytest.raises(CommandError, match=r"^The month ending 2026-04-30 has not closed yet"):
        call_command("reports", "snapshots", "--through", "2026-05-02")
    assert not AgingSnapshotMonth.objects.exists()


def test_the_beat_task_on_the_first_stores_the_month_that_ended_yesterday(ledger):
    with time_machine.travel(dt.datetime(2026, 4, 1, 1, 0, tzinfo=dt.UTC), tick=False):
        first = tasks.snapshot_month_end.delay().get()
        again = tasks.snapshot_month_end.delay().get()

    assert first == again == {"month_end": "2026-03-31", "rows": 4, "total": "2800.02"}
    assert list(AgingSnapshotMonth.objects.values_list("month_end", flat=True)) == [D(2026, 3, 31)]
    assert AgingSnapshot.objects.count() == 4
    entry = settings.CELERY_BEAT_SCHEDULE["reports-month-end-snapshot"]
    assert entry["task"] == "recoup.reports.tasks.snapshot_month_end"
    assert entry["schedule"] == crontab(day_of_month="1", hour="1", minute="0")


def test_month_ends_counts_back_from_the_last_month_end_on_or_before_a_date():
    assert snapshots.month_ends(3, through=D(2024, 3, 30)) == [
        D(2023, 12, 31),
        D(2024, 1, 31),
        D(2024, 2, 29),
    ]
    assert snapshots.month_ends(2, through=D(2024, 3, 31)) == [D(2024, 2, 29), D(2024, 3, 31)]
    assert snapshots.closed_month_ends(1) == [D(2026, 3, 31)]  # yesterday is 2026-04-14
    with pytest.raises(DomainError, match="at least one"):
        snapshots.month_ends(0, through=D(2024, 3, 31))


@pytest.mark.postgres_only
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks between connections: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_second_builder_of_the_same_month_end_waits_for_the_first_then_replaces_its_rows(
    ledger, monkeypatch
):
    snapshots.snapshot_month_end(D(2026, 3, 31))
    inserted, release = threading.Event(), threading.Event()
    finished: list[str] = []
    failures: list[BaseException] = []
    rate_json = snapshots._rate_json

    def pausing(rate):  # called inside the build's transaction, after its INSERT
        if threading.current_thread().name == "first":
            inserted.set()
            release.wait(10)
        return rate_json(rate)

    monkeypatch.setattr(snapshots, "_rate_json", pausing)

    def build() -> None:
        try:
            snapshots.snapshot_month_end(D(2026, 3, 31))
            finished.append(threading.current_thread().name)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)
        finally:
            connection.close()

    first = threading.Thread(target=build, name="first")
    first.start()
    assert inserted.wait(10)
    second = threading.Thread(target=build, name="second")
    second.start()
    second.join(0.5)

    assert second.is_alive()  # queued behind the first builder's claim on the month-end
    release.set()
    first.join(30)
    second.join(30)

    assert (finished, failures) == (["first", "second"], [])
    assert AgingSnapshot.objects.filter(month_end=D(2026, 3, 31)).count() == 4  # replaced, not doubled
    [month] = snapshots.month_end_totals([D(2026, 3, 31)])
    assert month.total == Decimal("2800.02")
