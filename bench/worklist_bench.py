"""The worklist ("My work today") on the 2M-invoice set, timed inside one process (interpreter and Django
start-up excluded). The collector workspace issue's target: the page renders at the 100k-customer scale in
≤ 300 ms.

Measured: `recoup.activity.worklist.worklist` (the selector: the one SQL statement and the page's four small
queries) and `GET /worklist/` through Django's test client (session, template, everything), for one
collector. Run it against the database the import benchmark filled (DATABASE_URL must point there).

The generated ledger has no collectors, tasks or promises. Unless they exist, `--setup` (default on) makes
BENCH_COLLECTORS collectors (default 10), gives each every tenth customer (by id), and gives the first
collector open tasks due on the as-of date on 200 of its customers and 50 pending promises falling due; all
idempotent, so a second run measures the same list.
"""

from __future__ import annotations

import datetime as dt
import os
import sys

from bench._common import AS_OF_TODAY, measure, parser, report

TARGET_S = 0.3
TASKS = 200
PROMISES = 50


def main() -> None:
    ap = parser(__doc__ or "")
    ap.add_argument("--collectors", type=int, default=int(os.environ.get("BENCH_COLLECTORS", "10")))
    ap.add_argument("--no-setup", dest="setup", action="store_false")
    a = ap.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("worklist_bench: set DATABASE_URL to the PostgreSQL bench database")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("RECOUP_INSECURE_DEFAULTS", "1")
    os.environ["ALLOWED_HOSTS"] = "testserver"  # the host name Django's test client sends
    import django

    django.setup()
    import time_machine
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from recoup.activity.worklist import worklist
    from recoup.users.models import User

    if a.setup:
        setup(a.collectors)
    collector = User.objects.get(username="bench-collector-01")
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM ledger_customer WHERE collector_id = %s", [collector.pk])
        (customers,) = cursor.fetchone()

    times, work = measure(
        lambda: worklist(collector=collector, today=AS_OF_TODAY), repeat=a.repeat, warmup=a.warmup
    )
    report(
        "ours.worklist_selector",
        times,
        target_s=TARGET_S,
        collector_customers=customers,
        rows_on_list=work.total,
        page_rows=len(work.rows),
        top_score=str(work.rows[0].terms.score) if work.rows else None,
    )

    client = Client()
    client.force_login(collector)
    url = reverse("worklist")
    noon = dt.datetime.combine(AS_OF_TODAY, dt.time(12), tzinfo=dt.UTC)
    with time_machine.travel(noon, tick=True):
        statements: list[str] = []

        def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
            statements.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):  # the test client's request resets connection.queries
            first = client.get(url)
        if first.status_code != 200:
            sys.exit(f"worklist_bench: the page answered {first.status_code}")

        def page() -> int:
            return client.get(url).status_code

        times, status = measure(page, repeat=a.repeat, warmup=a.warmup)
    if status != 200:
        sys.exit(f"worklist_bench: the page answered {status}")
    report(
        "ours.worklist_page",
        times,
        target_s=TARGET_S,
        queries=len(statements),
        bytes=len(first.content),
    )


def setup(collectors: int) -> None:
    """Collectors, their customers, and the first one's tasks and promises (idempotent)."""
    from django.db import connection, transaction

    from recoup.activity.models import Promise, PromiseStatus, Task, TaskKind, TaskStatus
    from recoup.users.models import Role, User

    users = []
    for n in range(1, collectors + 1):
        user, _ = User.objects.get_or_create(
            username=f"bench-collector-{n:02d}", defaults={"role": Role.COLLECTOR}
        )
        users.append(user)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM ledger_customer WHERE collector_id IS NOT NULL")
        if cursor.fetchone()[0] == 0:
            cases = " ".join(f"WHEN {i} THEN {u.pk}" for i, u in enumerate(users))
            cursor.execute(f"UPDATE ledger_customer SET collector_id = CASE id % {collectors} {cases} END")
    first = users[0]
    if not Task.objects.filter(owner=first, status=TaskStatus.OPEN).exists():
        ids = list(
            first.customers.order_by("id").values_list("id", flat=True)[: TASKS + PROMISES]  # type: ignore[attr-defined]
        )
        Task.objects.bulk_create(
            Task(
                kind=TaskKind.CALL,
                title="Call about the overdue invoices",
                customer_id=customer_id,
                owner=first,
                due_date=AS_OF_TODAY - dt.timedelta(days=i % 5),
                source_key=f"bench:{customer_id}",
            )
            for i, customer_id in enumerate(ids[:TASKS])
        )
        Promise.objects.bulk_create(
            Promise(
                customer_id=customer_id,
                amount="100.00",
                currency="USD",
                promised_date=AS_OF_TODAY + dt.timedelta(days=i % 3),
                made_on=AS_OF_TODAY - dt.timedelta(days=7),
                status=PromiseStatus.PENDING,
                owner=first,
            )
            for i, customer_id in enumerate(ids[TASKS:])
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE ledger_customer; ANALYZE activity_task; ANALYZE activity_promise")


if __name__ == "__main__":
    main()
