"""Reports on the 2M-invoice set, timed inside one process (interpreter and Django start-up excluded).

The issue's targets (reports and dashboards):
- the dashboard's JSON endpoints, together, ≤ 1 s;
- KPIs for any quarter ≤ 2 s (`recoup.reports.selectors.kpis`, four quarters each timed);
- rebuilding 36 month-end aging snapshots ≤ 60 s.

Run it against the database the import benchmark filled: DATABASE_URL must point there.
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import sys

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
    from recoup.reports.selectors import kpis

    for currency, rate in FX_RATES.items():  # as the aging benchmark sets them, if it has not run
        if not FxRate.objects.filter(currency=currency).exists():
            fx_rate_set(actor=None, currency=currency, date=dt.date(2020, 1, 1), rate=rate)

    for start, end in QUARTERS:
        times, result = measure(lambda s=start, e=end: kpis(start=s, end=e), repeat=a.repeat, warmup=a.warmup)
        figures = result.as_dict()
        report(
            f"ours.kpis_{start.isoformat()}",
            times,
            target_s=2.0,
            dso=figures["dso"],
            cei=figures["cei"],
            end_ar=figures["end_ar"],
        )

    if not a.skip_dashboard:
        dashboard(a.repeat, a.warmup)
    if not a.skip_snapshots:
        from recoup.reports import snapshots

        through = AS_OF_TODAY.replace(day=1) - dt.timedelta(days=1)
        times, _ = measure(
            lambda: snapshots.rebuild(months=a.snapshot_months, through=through), repeat=1, warmup=0
        )
        report(f"ours.snapshots_rebuild_{a.snapshot_months}", times, target_s=60.0)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report("ours.reports_peak_rss", [0.0], peak_rss_mb=round(peak_mb, 1))


def dashboard(repeat: int, warmup: int) -> None:
    """Every JSON endpoint the dashboard page loads, requested one after another as a viewer."""
    from django.test import Client
    from django.urls import reverse

    from recoup.users.models import Role, User

    viewer, _ = User.objects.get_or_create(username="bench-viewer", defaults={"role": Role.VIEWER})
    client = Client()
    client.force_login(viewer)
    names = ("aging", "kpis", "collections", "top-overdue", "collectors", "figures")
    urls = [reverse(f"dashboard-{name}") for name in names]
    # The page stores the month-end snapshots its charts read, as a first visit does; the charts are timed.
    page = client.get(reverse("dashboard"))
    if page.status_code != 200:
        sys.exit(f"reports_bench: the dashboard answered {page.status_code}")

    def load_all() -> list[int]:
        return [client.get(url).status_code for url in urls]

    times, statuses = measure(load_all, repeat=repeat, warmup=warmup)
    if any(status != 200 for status in statuses):
        sys.exit(f"reports_bench: a dashboard endpoint answered {statuses}")
    report("ours.dashboard_endpoints", times, target_s=1.0, endpoints=len(urls))


if __name__ == "__main__":
    main()
