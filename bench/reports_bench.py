"""Reports on the 2M-invoice set, timed inside one process (interpreter and Django start-up excluded).

The issue's targets (reports and dashboards):
- the dashboard's JSON endpoints, together, ≤ 1 s;
- KPIs for any quarter ≤ 2 s (`recoup.reports.selectors.kpis`, four quarters each timed);
- rebuilding 36 month-end aging snapshots ≤ 60 s.

In this order: the KPIs from the ledger alone (`ours.kpis_ledger_*`: no snapshot used, as when the
month-ends are stale or the period's ends are not month-ends), the snapshot rebuild, the KPIs as they run
with the month-ends stored and current (`ours.kpis_*`, the target), then the dashboard: its endpoints after a
change of the ledger, after the page, and in a process that kept nothing (see `dashboard`).

Run it against the database the import benchmark filled: DATABASE_URL must point there.
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import sys
import time
from typing import Any
from unittest import mock

from bench._common import AS_OF_TODAY, measure, parser, report

QUARTERS = (
    (dt.date(2025, 10, 1), dt.date(2025, 12, 31)),
    (dt.date(2026, 1, 1), dt.date(2026, 3, 31)),
    (dt.date(2026, 4, 1), dt.date(2026, 6, 30)),
    (dt.date(2026, 7, 1), dt.date(2026, 9, 30)),
)


def main() -> None:
    ap = parser(__doc__ or "")
    ap.add_argument("--snapshot-months", type=int, default=36)
    ap.add_argument("--skip-snapshots", action="store_true")
    ap.add_argument("--skip-dashboard", action="store_true")
    a = ap.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("reports_bench: set DATABASE_URL to the PostgreSQL bench database")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("RECOUP_INSECURE_DEFAULTS", "1")
    os.environ["ALLOWED_HOSTS"] = "testserver"  # the host name Django's test client sends
    import django

    django.setup()
    from bench.aging_bench import FX_RATES
    from recoup.ledger.models import FxRate
    from recoup.ledger.services import fx_rate_set
    from recoup.reports import selectors

    for currency, rate in FX_RATES.items():  # as the aging benchmark sets them, if it has not run
        if not FxRate.objects.filter(currency=currency).exists():
            fx_rate_set(actor=None, currency=currency, date=dt.date(2020, 1, 1), rate=rate)

    ledger_only = {}
    with mock.patch.object(selectors, "_stored_closes", lambda days: {}):  # every AR from the ledger
        for start, end in QUARTERS:
            ledger_only[start] = time_kpis(
                f"ours.kpis_ledger_{start.isoformat()}", start, end, a, target_s=None
            )
    if not a.skip_snapshots:
        from recoup.reports import snapshots

        through = AS_OF_TODAY.replace(day=1) - dt.timedelta(days=1)
        times, _ = measure(
            lambda: snapshots.rebuild(months=a.snapshot_months, through=through), repeat=1, warmup=0
        )
        report(f"ours.snapshots_rebuild_{a.snapshot_months}", times, target_s=60.0)
    for start, end in QUARTERS:
        figures = time_kpis(f"ours.kpis_{start.isoformat()}", start, end, a, target_s=2.0)
        if figures != ledger_only[start]:
            sys.exit(f"reports_bench: the KPIs from {start} differ from the ledger's: {figures}")

    if not a.skip_dashboard:
        dashboard(a.repeat, a.warmup)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report("ours.reports_peak_rss", [0.0], peak_rss_mb=round(peak_mb, 1))


def time_kpis(name: str, start: dt.date, end: dt.date, a: Any, *, target_s: float | None) -> dict[str, Any]:
    from recoup.reports.selectors import kpis

    times, result = measure(lambda: kpis(start=start, end=end), repeat=a.repeat, warmup=a.warmup)
    figures: dict[str, Any] = result.as_dict()
    extra = {"target_s": target_s} if target_s is not None else {}
    report(name, times, **extra, dso=figures["dso"], cei=figures["cei"], end_ar=figures["end_ar"])
    return figures


def dashboard(repeat: int, warmup: int) -> None:
    """The dashboard's page and its eight JSON requests, one after another, timed three ways each round:
    - ours.dashboard_endpoints_changed: right after a change of the ledger dated today (an FX rate of today
      added, or taken away again: it changes no figure), the endpoints alone: the first ages today again,
      the closed months' credit sales stay kept (recoup.ledger.kept);
    - ours.dashboard_endpoints: the page, then its endpoints, as a browser loads them (the page ages today,
      the endpoints reuse it); the page alone is ours.dashboard_page;
    - ours.dashboard_endpoints_cold: the endpoints in a process that has kept nothing (a worker's first
      dashboard)."""
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from recoup.ledger import kept
    from recoup.ledger.models import FxRate
    from recoup.ledger.services import fx_rate_set
    from recoup.users.models import Role, User

    viewer, _ = User.objects.get_or_create(username="bench-viewer", defaults={"role": Role.VIEWER})
    client = Client()
    client.force_login(viewer)
    names = (
        "aging",
        "kpis",
        "collections",
        "outlook",
        "top-overdue",
        "collectors",
        "figures",
        "collector-activity-panel",
    )
    urls = [reverse(f"dashboard-{name}") for name in names]
    today = timezone.localdate()
    latest = FxRate.objects.filter(date__lt=today).order_by("-date").first()
    if latest is None or FxRate.objects.filter(currency=latest.currency, date=today).exists():
        sys.exit("reports_bench: needs an FX rate before today and none of its currency today")

    def get(url: str) -> float:
        started = time.perf_counter()
        status = client.get(url).status_code
        if status != 200:
            sys.exit(f"reports_bench: {url} answered {status}")
        return time.perf_counter() - started

    def change_today() -> None:
        """Add a rate of today equal to the latest one, or take it away again: a change dated today."""
        added = FxRate.objects.filter(currency=latest.currency, date=today)
        if added.exists():
            added.delete()
        else:
            fx_rate_set(actor=None, currency=latest.currency, date=today, rate=latest.rate)

    get(reverse("dashboard"))  # a first visit stores the month-end snapshots the charts read
    changed, pages, after_page, cold = [], [], [], []
    rounds = warmup + repeat
    for n in range(rounds):
        sum(get(url) for url in urls)  # everything kept, as after any earlier visit
        change_today()
        alone = sum(get(url) for url in urls)
        change_today()
        page = get(reverse("dashboard"))
        endpoints = sum(get(url) for url in urls)
        kept.forget()
        fresh = sum(get(url) for url in urls)
        if n >= warmup:
            changed.append(alone)
            pages.append(page)
            after_page.append(endpoints)
            cold.append(fresh)
    report("ours.dashboard_page", pages)
    report("ours.dashboard_endpoints", after_page, target_s=1.0, endpoints=len(urls))
    report("ours.dashboard_endpoints_changed", changed, target_s=1.0, endpoints=len(urls))
    report("ours.dashboard_endpoints_cold", cold, target_s=1.0, endpoints=len(urls))


if __name__ == "__main__":
    main()
