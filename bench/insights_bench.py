"""Insights on the 2M-invoice set, timed inside one process per phase (interpreter start-up excluded).

The issue's targets (insights):
- training ≤ 3 min: `services.model_train`, reading the whole ledger into arrays, building the features of
  the sampled training moments, choosing on the validation split and fitting the five estimators;
- scoring all ~112k open invoices ≤ 30 s: `services.scores_refresh`, reading the ledger, predicting every
  open invoice, working out every customer's terms (and the drivers of the 5,000 ranked highest) and
  writing them all;
- re-ranking after one payment ≤ 200 ms: `ledger.payment_create` of a payment of one open invoice, then
  `services.rescore_customer` of its customer (what the payment's on-commit hook runs), then the top 50 of
  the worklist by score (`selectors.priority_ranking`), all in one transaction that is then rolled back, so
  the bench ledger is left as the import made it;
- peak RSS < 2 GB, of each phase's process.

Each phase runs in its own process (`--phase`), so that each peak RSS is its own. Run it against the
database the import benchmark filled, after `recoup migrate`: DATABASE_URL must point there.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/recoup_bench_app .venv/bin/python -m bench.insights_bench
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from decimal import Decimal

from bench._common import AS_OF_TODAY, measure, parser, report

PHASES = ("train", "score", "rerank")


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("RECOUP_INSECURE_DEFAULTS", "1")
    import django

    django.setup()


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def phase_train(repeat: int, warmup: int) -> None:
    from recoup.insights import services

    times, model = measure(
        lambda: services.model_train(actor=None, through=AS_OF_TODAY), repeat=repeat, warmup=warmup
    )
    report(
        "insights.train",
        times,
        target_s=180,
        peak_rss_mb=_peak_mb(),
        version=model.version,
        invoices=model.invoices,
        moments=model.moments,
        chosen=model.metrics.get("chosen"),
    )


def phase_score(repeat: int, warmup: int) -> None:
    from recoup.insights import services

    times, summary = measure(
        lambda: services.scores_refresh(actor=None, as_of=AS_OF_TODAY), repeat=repeat, warmup=warmup
    )
    report("insights.score_all", times, target_s=30, peak_rss_mb=_peak_mb(), **summary.as_dict())


def phase_rerank(repeat: int, warmup: int) -> None:
    from django.db import transaction

    from recoup.insights import selectors, services
    from recoup.ledger import services as ledger
    from recoup.ledger.models import Invoice

    # Customers with several open invoices, one per repetition: a payment of its oldest.
    invoices = list(
        Invoice.objects.filter(open_amount__gt=0, issue_date__lte=AS_OF_TODAY)
        .select_related("customer")
        .order_by("customer_id", "due_date", "id")
        .distinct("customer_id")[: repeat + warmup]
    )
    steps: dict[str, list[float]] = {"payment": [], "rescore": [], "ranking": []}
    totals: list[float] = []
    for n, invoice in enumerate(invoices):
        with transaction.atomic():
            t0 = time.perf_counter()
            ledger.payment_create(
                actor=None,
                customer=invoice.customer,
                external_id=f"BENCH-RERANK-{n}",
                date=AS_OF_TODAY,
                amount=invoice.open_amount,
                apply_to=[ledger.Application(invoice=invoice)],
            )
            t1 = time.perf_counter()
            services.rescore_customer(customer_id=invoice.customer_id, as_of=AS_OF_TODAY)
            t2 = time.perf_counter()
            top = list(selectors.priority_ranking()[:50].prefetch_related("customer"))
            t3 = time.perf_counter()
            transaction.set_rollback(True)  # leave the bench ledger as it was
        assert len(top) == 50
        if n >= warmup:
            steps["payment"].append(t1 - t0)
            steps["rescore"].append(t2 - t1)
            steps["ranking"].append(t3 - t2)
            totals.append(t3 - t0)
    report(
        "insights.rerank_after_payment",
        totals,
        target_s=0.2,
        peak_rss_mb=_peak_mb(),
        **{f"{name}_median_s": round(sorted(v)[len(v) // 2], 4) for name, v in steps.items()},
    )


def main() -> None:
    ap = parser(__doc__ or "")
    ap.add_argument(
        "--phase", choices=PHASES, help="run one phase in this process (default: each in its own)"
    )
    ap.add_argument("--train-repeat", type=int, default=int(os.environ.get("BENCH_TRAIN_REPEAT", "3")))
    a = ap.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("insights_bench: set DATABASE_URL to the PostgreSQL bench database")
    if a.phase:
        _django()
        from bench.aging_bench import FX_RATES
        from recoup.ledger.models import FxRate
        from recoup.ledger.services import fx_rate_set

        for currency, rate in FX_RATES.items():  # as the aging benchmark sets them, if it has not run
            if not FxRate.objects.filter(currency=currency).exists():
                fx_rate_set(actor=None, currency=currency, date=dt.date(2020, 1, 1), rate=Decimal(rate))
        if a.phase == "train":
            phase_train(a.train_repeat, 0)
        elif a.phase == "score":
            phase_score(a.repeat, a.warmup)
        else:
            phase_rerank(a.repeat * 4, a.warmup)
        return
    for phase in PHASES:
        started = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.insights_bench",
                "--phase",
                phase,
                "--repeat",
                str(a.repeat),
                "--warmup",
                str(a.warmup),
                "--train-repeat",
                str(a.train_repeat),
            ],
            check=False,
            capture_output=True,
            text=True,
        )
        sys.stderr.write(done.stderr)
        for line in done.stdout.splitlines():
            print(line, flush=True)
        if done.returncode:
            sys.exit(f"insights_bench: phase {phase} failed ({done.returncode})")
        print(
            json.dumps({"phase": phase, "wall_s": round(time.perf_counter() - started, 1)}), file=sys.stderr
        )


if __name__ == "__main__":
    main()
