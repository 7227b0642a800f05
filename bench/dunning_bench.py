"""The dunning benchmark (the dunning issue's targets), on the database the import benchmark filled.

1. planning: `services.dunning_run(as_of=…)` for the whole ledger, plan and outbox rows written, and the dry
   run (plan only); each timed after the dunning tables are emptied again (not timed);
2. PDF: `rendering.render_statement_pdf` for a sample of the planned messages, each timed alone;
3. delivery: a real Celery worker with two prefork processes on the real Redis delivers a sample of the
   outbox to an aiosmtpd sink (another process) over SMTP: messages per second from the first dispatch to
   the last row marked sent, and the peak RSS (VmHWM) of every worker process. Twice: with the PDF statement
   attached (the default) and without (RECOUP_DUNNING_ATTACH_STATEMENT=0).

    DATABASE_URL=postgres://…/recoup_bench_app python -m bench.dunning_bench [--deliver 3000]
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from bench._common import AS_OF_TODAY, measure, parser, report

ROOT = Path(__file__).resolve().parents[1]
WORKER_FLAGS = ("--loglevel=warning", "--without-heartbeat", "--without-gossip", "--without-mingle")
FX_RATES = {"EUR": Decimal("1.0800"), "GBP": Decimal("1.2700")}
TABLES = (
    "dunning_messageitem",
    "dunning_outboundmessage",
    "dunning_dunningstep",
    "dunning_invoicedunning",
    "dunning_dunningrun",
    "activity_task_invoices",
    "activity_task",
    "activity_timelineentry_invoices",
    "activity_timelineentry",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def main() -> None:
    ap = parser(__doc__ or "")
    ap.add_argument("--as-of", type=dt.date.fromisoformat, default=AS_OF_TODAY)
    ap.add_argument("--deliver", type=int, default=3000, help="messages to deliver in each delivery run")
    ap.add_argument("--pdf-sample", type=int, default=200)
    ap.add_argument("--broker", default=os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/13"))
    ap.add_argument("--skip-delivery", action="store_true")
    ap.add_argument("--pool", choices=["prefork", "threads"], default="prefork")
    ap.add_argument("--threads", type=int, default=4, help="with --pool threads: threads per worker process")
    ap.add_argument(
        "--delivery-only",
        action="store_true",
        help="time delivery alone, of the outbox an earlier run planned",
    )
    a = ap.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("dunning_bench: set DATABASE_URL to the PostgreSQL bench database")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("RECOUP_INSECURE_DEFAULTS", "1")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from recoup.dunning import delivery, rendering, services
    from recoup.dunning.models import OutboundMessage
    from recoup.ledger.models import FxRate
    from recoup.ledger.services import fx_rate_set

    for currency, rate in FX_RATES.items():
        if currency != settings.BASE_CURRENCY and not FxRate.objects.filter(currency=currency).exists():
            fx_rate_set(actor=None, currency=currency, date=dt.date(2020, 1, 1), rate=rate)

    def reset() -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
            cursor.execute("UPDATE ledger_customer SET on_hold = false WHERE on_hold")

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*), COUNT(DISTINCT customer_id) FROM ledger_invoice WHERE open_amount > 0"
        )
        open_invoices, open_customers = cursor.fetchone()

    if a.delivery_only:
        for attach in (True, False):
            _deliver(a, connection, attach=attach)
        return

    # 1. Planning -------------------------------------------------------------------------------------------
    def dry() -> dict[str, object]:
        return services.dunning_run(actor=None, as_of=a.as_of, dry_run=True).report

    reset()
    times, dry_report = measure(dry, repeat=a.repeat, warmup=a.warmup)
    report("dunning.plan_dry_run", times, open_invoices=open_invoices, open_customers=open_customers,
           messages=dry_report["messages_total"])  # fmt: skip

    run_times = []
    result = None
    for n in range(a.warmup + a.repeat):
        reset()
        started = time.perf_counter()
        result = services.dunning_run(actor=None, as_of=a.as_of)
        if n >= a.warmup:
            run_times.append(time.perf_counter() - started)
    assert result is not None
    rows = {table: _count(connection, table) for table in TABLES[:4]}
    report(
        "dunning.plan_and_write",
        run_times,
        customers=result.report["customers"],
        messages=result.report["messages_total"],
        invoices_moved=result.report["invoices_moved"],
        skipped=result.report["skipped"],
        rows_written=rows,
    )

    # 2. PDF rendering --------------------------------------------------------------------------------------
    sample = list(
        OutboundMessage.objects.select_related("customer", "level__policy").order_by("id")[: a.pdf_sample]
    )
    letters = [delivery._letter(message) for message in sample]
    rendering.render_statement_pdf(letters[0])  # WeasyPrint's first document loads fonts
    pdf_times, lines = [], []
    for letter in letters:
        started = time.perf_counter()
        rendering.render_statement_pdf(letter)
        pdf_times.append(time.perf_counter() - started)
        lines.append(len(letter.statement))
    report("dunning.pdf_render", pdf_times, documents=len(letters), median_lines=statistics.median(lines),
           max_lines=max(lines), p90_s=round(sorted(pdf_times)[int(len(pdf_times) * 0.9)], 4))  # fmt: skip

    if a.skip_delivery:
        return
    # 3. Delivery through Celery -----------------------------------------------------------------------------
    for attach in (True, False):
        _deliver(a, connection, attach=attach)


def _deliver(a, connection, *, attach: bool) -> None:  # type: ignore[no-untyped-def]
    """One worker (two prefork processes) and one sink for `a.repeat` counted runs after `a.warmup`."""
    import redis

    from config.celery import app
    from recoup.dunning import tasks
    from recoup.dunning.models import MessageStatus, OutboundMessage

    ids = list(OutboundMessage.objects.order_by("id").values_list("id", flat=True)[: a.deliver])

    def reset() -> None:
        """The same sample each time: the first N messages back to pending, due; the rest set aside."""
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE dunning_outboundmessage SET"
                " status = CASE WHEN id <= %s THEN 'pending' ELSE 'cancelled' END, attempts = 0,"
                " claim_token = '', claimed_at = NULL, dispatched_at = NULL, sent_at = NULL,"
                " next_attempt_at = NULL, send_at = %s",
                [ids[-1], dt.datetime(2020, 1, 1, tzinfo=dt.UTC)],
            )
            cursor.execute("TRUNCATE activity_timelineentry_invoices, activity_timelineentry")
        redis.Redis.from_url(a.broker).flushdb()

    reset()
    port = free_port()
    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port)
    env = {
        **os.environ,
        "CELERY_BROKER_URL": a.broker,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "RECOUP_DUNNING_ATTACH_STATEMENT": "1" if attach else "0",
    }
    # Two worker processes: one prefork worker with two children, or (--pool threads) two worker
    # processes with a thread pool each, whose threads overlap the waits on PostgreSQL and SMTP.
    if a.pool == "threads":
        commands = [
            ["--pool=threads", "-c", str(a.threads), "-n", f"bench-{os.getpid()}-{n}@%h"] for n in (1, 2)
        ]
    else:
        commands = [["--pool=prefork", "-c", "2", "-n", f"bench-{os.getpid()}@%h"]]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", *args, *WORKER_FLAGS],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for args in commands
    ]
    app.conf.update(broker_url=a.broker, task_always_eager=False)
    times: list[float] = []
    peak: dict[int, int] = {}
    try:
        while len(app.control.ping(timeout=0.5)) < len(workers):
            if any(worker.poll() is not None for worker in workers):
                sys.exit("dunning_bench: a worker did not start")
        for n in range(a.warmup + a.repeat):
            reset()
            started = time.perf_counter()
            tasks.dispatch.delay()
            while OutboundMessage.objects.filter(status=MessageStatus.SENT).count() < len(ids):
                _sample_rss([w.pid for w in workers], peak)
                failed = OutboundMessage.objects.filter(status=MessageStatus.FAILED).first()
                if failed is not None:
                    sys.exit(f"dunning_bench: message {failed.pk} failed: {failed.last_error}")
                time.sleep(0.2)
            if n >= a.warmup:
                times.append(time.perf_counter() - started)
            _sample_rss([w.pid for w in workers], peak)
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(60)
        sink.terminate()
        sink.wait(10)
    rates = [round(len(ids) / t, 1) for t in times]
    suffix = "" if a.pool == "prefork" else f"_threads{a.threads}"
    report(
        ("dunning.deliver_with_pdf" if attach else "dunning.deliver_without_pdf") + suffix,
        times,
        messages=len(ids),
        messages_per_s=statistics.median(rates),
        messages_per_s_runs=rates,
        worker_processes=2,
        pool=a.pool if a.pool == "prefork" else f"threads x {a.threads} per process",
        peak_rss_mb={str(pid): round(kb / 1024) for pid, kb in sorted(peak.items())},
        max_peak_rss_mb=round(max(peak.values()) / 1024),
    )


def _sample_rss(pids: list[int], peak: dict[int, int]) -> None:
    """VmHWM (the kernel's peak resident set) of the workers and their pool processes, in kB."""
    import psutil

    try:
        processes = [
            p for pid in pids for p in (psutil.Process(pid), *psutil.Process(pid).children(recursive=True))
        ]
    except psutil.NoSuchProcess:
        return
    for process in processes:
        try:
            with open(f"/proc/{process.pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        peak[process.pid] = max(peak.get(process.pid, 0), int(line.split()[1]))
        except OSError:
            continue


def _count(connection, table: str) -> int:  # type: ignore[no-untyped-def]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        return int(cursor.fetchone()[0])


if __name__ == "__main__":
    main()
