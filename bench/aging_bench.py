"""The project's aging, timed inside one process (interpreter and Django start-up excluded).

Times `recoup.ledger.aging.aging_report(as_of=..., by="customer")` as of today (the generator's as-of)
and as of past dates, then the API request GET /api/v1/reports/aging through DRF's APIClient (a viewer,
authenticated in-process).
Run it against the database the import benchmark filled: DATABASE_URL must point there.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from decimal import Decimal

from bench._common import AS_OF_TODAY, PAST_DATES, measure, parser, report

# The bench data is in USD, EUR and GBP; aging needs a rate for each, dated 2020-01-01 (before any invoice).
FX_RATES = {"EUR": Decimal("1.0800"), "GBP": Decimal("1.2700")}


def main() -> None:
    ap = parser(__doc__ or "")
    ap.add_argument("--as-of", type=dt.date.fromisoformat, default=AS_OF_TODAY)
    ap.add_argument("--past", type=dt.date.fromisoformat, action="append", help="past as-of dates")
    ap.add_argument("--no-api", action="store_true")
    a = ap.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("aging_bench: set DATABASE_URL to the PostgreSQL bench database")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("RECOUP_INSECURE_DEFAULTS", "1")
    os.environ["ALLOWED_HOSTS"] = "testserver"  # the host name DRF's APIClient sends
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from recoup.ledger.aging import aging_report
    from recoup.ledger.models import FxRate
    from recoup.ledger.services import fx_rate_set

    for currency, rate in FX_RATES.items():
        if currency != settings.BASE_CURRENCY and not FxRate.objects.filter(currency=currency).exists():
            fx_rate_set(actor=None, currency=currency, date=dt.date(2020, 1, 1), rate=rate)

    # The anchors sum each customer's currency unconverted: compare their totals with this one.
    with connection.cursor() as cur:
        cur.execute("SELECT COALESCE(SUM(open_amount), 0) FROM ledger_invoice WHERE open_amount > 0")
        native_open_today = str(cur.fetchone()[0])

    dates = [("today", a.as_of)] + [("past", d) for d in (a.past or PAST_DATES)]
    for label, as_of in dates:
        times, rep = measure(
            lambda as_of=as_of: aging_report(as_of=as_of, by="customer"), repeat=a.repeat, warmup=a.warmup
        )
        extra = {"native_open_today": native_open_today} if label == "today" else {}
        report(
            f"ours.aging_{label}",
            times,
            as_of=as_of,
            customers=len(rep.rows),
            total=str(rep.total.total),
            currency=rep.currency,
            **extra,
        )

    if a.no_api:
        return
    from rest_framework.test import APIClient

    from recoup.users.models import Role, User

    user, _ = User.objects.get_or_create(username="bench-viewer", defaults={"role": Role.VIEWER})
    client = APIClient()
    client.force_authenticate(user)
    for label, as_of in dates[:2]:
        url = f"/api/v1/reports/aging?as_of={as_of.isoformat()}&by=customer"

        def get(url: str = url) -> tuple[int, int]:
            response = client.get(url, HTTP_ACCEPT="application/json")
            return response.status_code, len(response.content)

        times, (status, size) = measure(get, repeat=a.repeat, warmup=a.warmup)
        report(f"ours.api_aging_{label}", times, as_of=as_of, status=status, bytes=size)
        if status != 200:
            sys.exit(f"aging_bench: GET {url} answered {status}")


if __name__ == "__main__":
    main()
