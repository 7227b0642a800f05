"""The distributed mode: real Celery workers on the real Redis broker (127.0.0.1:6379, a database of its own)
deliver the outbox to a real SMTP server.

- An in-process worker (threads) runs on both databases.
- A worker process (prefork, 2 children) is SIGKILLed in the middle of sending and started again: every
  message arrives, and only one whose SMTP transaction was in flight at the kill may arrive twice. That
  needs a database a second process can open, so it runs on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import redis
from aiosmtpd.controller import Controller
from django.db import connection

from config.celery import app
from recoup.core.tests.support import Ledger, Sink, default_policy, free_port
from recoup.dunning import services, tasks
from recoup.dunning.models import MessageStatus, OutboundMessage

ROOT = Path(__file__).resolve().parents[3]
REDIS_URL = os.environ.get("RECOUP_TEST_REDIS", "redis://127.0.0.1:6379/15")
DUE = dt.date(2026, 3, 2)
pytestmark = pytest.mark.django_db(transaction=True)


def redis_or_fail() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")


# A queue of this test session's own (CELERY_QUEUE): a worker left over from another run, or another test
# session on the same Redis, never takes its tasks.
QUEUE = f"recoup-test-{os.getpid()}"


@pytest.fixture
def broker(settings):
    """Point this process's Celery app at the real Redis and this session's queue, as CELERY_BROKER_URL and
    CELERY_QUEUE would."""
    redis_or_fail()
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager", "task_default_queue")}
    app.conf.update(broker_url=REDIS_URL, task_always_eager=False, task_default_queue=QUEUE)
    rebind(app)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    try:
        yield REDIS_URL
    finally:
        app.conf.update(saved)
        rebind(app)
        redis.Redis.from_url(REDIS_URL).delete(QUEUE)


def rebind(celery_app) -> None:
    """Drop what the app built from its configuration before it changed: the broker connection pool, the
    routing (queues, producers) and the remote control, which would still use the first configuration's broker
    and queue. (Not closed: whatever still holds them finishes with them.)"""
    celery_app._pool = None
    for cached in ("amqp", "control"):
        celery_app.__dict__.pop(cached, None)


def wait_until(predicate, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def plan(customers: int) -> list[OutboundMessage]:
    default_policy()
    books = Ledger()
    for n in range(customers):
        books.invoice(books.customer(f"C{n:03d}", emails=(f"ap{n}@example.com",)), DUE, f"{100 + n}.00")
    services.dunning_run(actor=None, as_of=DUE + dt.timedelta(days=3))
    return list(OutboundMessage.objects.order_by("id"))


def test_an_in_process_worker_delivers_the_outbox_over_redis(broker, smtp):
    import celery.contrib.testing.tasks  # noqa: F401  (registers celery.ping, which start_worker checks)
    from celery.contrib.testing.worker import start_worker

    messages = plan(6)
    # The SQLite test database lives in memory with a shared cache, whose table locks do not wait: there the
    # worker runs one thread and this test reads the database only once it has stopped (a warm shutdown: it
    # finishes the task in hand).
    threads = 2 if connection.vendor == "postgresql" else 1
    with start_worker(
        app, pool="threads", concurrency=threads, perform_ping_check=False, shutdown_timeout=10
    ):
        tasks.dispatch.delay()
        wait_until(lambda: len(smtp.received) == 6, timeout=60, what="6 emails")

    assert OutboundMessage.objects.filter(status=MessageStatus.SENT).count() == 6

    assert sorted(m.rcpt_tos[0] for m in smtp.received) == sorted(f"ap{n}@example.com" for n in range(6))
    assert sorted(m.message["Message-ID"] for m in smtp.received) == sorted(m.message_id for m in messages)


# The crash test ---------------------------------------------------------------------------------------------


class SlowSink(Sink):
    """Takes a moment over each message, as a real relay does, and notes when each one was accepted."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted: list[tuple[str, float]] = []

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.04)
        received = self.record(envelope)  # not self.received[-1]: two sessions interleave
        self.accepted.append((received.message["Message-ID"], time.time()))
        return "250 OK"


def start_worker_process(env: dict[str, str], log: Path, started: list[subprocess.Popen[bytes]]) -> None:
    """Start a worker process (appended to `started`, which teardown kills) and wait until it answers."""
    name = f"crash-{os.getpid()}-{len(started)}@{socket.gethostname()}"
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=prefork", "-c", "2",
        "--loglevel=warning", "-n", name, "--without-heartbeat", "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, stdout=out, stderr=out)
    started.append(process)
    deadline = time.monotonic() + 60
    while not app.control.ping(destination=[name], timeout=0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the worker did not start; its log:\n{log.read_text()[-3000:]}")


@pytest.mark.postgres_only
@pytest.mark.skipif(connection.vendor != "postgresql", reason="a worker process needs a shared database")
def test_sigkill_of_a_worker_mid_send_then_a_restart_delivers_every_message(broker, settings, tmp_path):
    sink = SlowSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "RECOUP_INSECURE_DEFAULTS": "1",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{db['NAME']}",
        "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_QUEUE": QUEUE,
        "CELERY_VISIBILITY_TIMEOUT": "5",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(controller.port),
        "EMAIL_TIMEOUT": "2",
        "RECOUP_OUTBOX_LEASE_SECONDS": "5",
    }
    settings.RECOUP_OUTBOX_LEASE_SECONDS = 5
    log = tmp_path / "worker.log"
    total = 40
    messages = plan(total)
    intended = {m.message_id for m in messages}
    workers: list[subprocess.Popen[bytes]] = []
    try:
        start_worker_process(env, log, workers)
        tasks.dispatch.delay()
        wait_until(lambda: len(sink.received) >= 12, timeout=60, what="the first emails")
        os.killpg(workers[0].pid, signal.SIGKILL)
        workers[0].wait(10)
        killed_at = time.time()
        in_flight = set(
            OutboundMessage.objects.filter(status=MessageStatus.SENDING).values_list("message_id", flat=True)
        )
        arrived_before = len(sink.received)

        start_worker_process(env, log, workers)
        # celery beat would call dispatch every minute; here every second, past the 5 s lease.
        deadline = time.monotonic() + 90
        while OutboundMessage.objects.filter(status=MessageStatus.SENT).count() < total:
            if time.monotonic() > deadline:
                pytest.fail(f"not every message was sent; worker log:\n{log.read_text()[-3000:]}")
            tasks.dispatch.delay()
            time.sleep(1)
    finally:
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL if worker.poll() is None else 0)
            worker.wait(30)
        controller.stop()

    arrivals = Counter(m.message["Message-ID"] for m in sink.received)
    duplicates = {message_id for message_id, n in arrivals.items() if n > 1}
    assert set(arrivals) == intended  # every intended message arrived, and nothing else
    assert len(in_flight) <= 2  # one claim per worker child at a time
    assert duplicates <= in_flight  # only a message in flight at the kill may arrive twice
    assert all(n <= 2 for n in arrivals.values())
    assert arrived_before < total  # the kill did land mid-send
    # The window: from the server accepting a message to the sender recording it as sent.
    sent_at = dict(OutboundMessage.objects.values_list("message_id", "sent_at"))
    first_accept = {}
    for message_id, accepted in sink.accepted:
        first_accept.setdefault(message_id, accepted)
    gaps = [
        (sent_at[mid].timestamp() - accepted) * 1000
        for mid, accepted in first_accept.items()
        if accepted < killed_at
    ]
    print(
        f"\ncrash test: {total} messages, {arrived_before} arrived before the kill, "
        f"{len(in_flight)} in flight, "
        f"{len(duplicates)} duplicate(s); accept→recorded window: median {statistics.median(gaps):.1f} ms, "
        f"max {max(gaps):.1f} ms over {len(gaps)} messages"
    )


# The schedule -----------------------------------------------------------------------------------------------


def test_beat_schedules_every_periodic_job_and_each_task_exists():
    from django.conf import settings

    app.loader.import_default_modules()
    schedule = settings.CELERY_BEAT_SCHEDULE

    scheduled = {entry["task"] for entry in schedule.values()}
    assert scheduled == {
        "recoup.dunning.tasks.run_daily",
        "recoup.dunning.tasks.dispatch",
        "recoup.disputes.tasks.check_sla",
        "recoup.core.tasks.send_notifications",
        "recoup.reports.tasks.snapshot_month_end",
        "recoup.reports.tasks.weekly_summary",
        "recoup.activity.tasks.evaluate_promises",
        "recoup.activity.tasks.check_credit_limits",
        "recoup.insights.tasks.nightly",
    }
    assert scheduled | {"recoup.dunning.tasks.deliver"} <= set(app.tasks)
    assert str(schedule["dunning-run"]["schedule"]) == "<crontab: 0 6 * * * (m/h/dM/MY/d)>"
    assert schedule["dunning-dispatch"]["schedule"] == 60.0


def test_the_daily_task_runs_as_of_today_and_sends_in_the_embedded_mode(smtp):
    import time_machine

    default_policy()
    books = Ledger()
    books.invoice(books.customer("DAILY"), dt.date(2026, 3, 2))
    with time_machine.travel(dt.datetime(2026, 3, 5, 10, 0, tzinfo=dt.UTC), tick=True):
        report = tasks.run_daily()
        again = tasks.run_daily()
        earlier = None
        with time_machine.travel(dt.datetime(2026, 3, 4, 10, 0, tzinfo=dt.UTC), tick=True):
            earlier = tasks.run_daily()

    assert (report["as_of"], report["messages_total"], again["messages_total"]) == ("2026-03-05", 1, 0)
    assert earlier == {
        "refused": "A run as of 2026-03-04 is refused: the last run was as of 2026-03-05, and runs never go "
        "back in time."
    }
    assert len(smtp.received) == 1
