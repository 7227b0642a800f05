"""Reads of the collector workspace: "My work today", the next action for a customer, the task lists and the
promise kept rate.

The worklist is one SQL statement: the customers on a collector's list (their tasks due today or earlier,
their pending promises due within `horizon` days or in their grace period, and their customers overdue with
no open task and no pending promise), each with its overdue terms summed over its open overdue invoices
(`Invoice.open_amount`, converted to the base currency at the rates of the day, as aging converts), ordered
by the insights priority score (`CustomerPriority.score`: the named terms weighted by the managers' weights,
stored by the scoring) and then by overdue × days past due, and cut to one page. A customer not scored yet
counts 0 on the first key, so before the first scoring the list is in the order of the second. Small queries
then read the page's priority terms, tasks, promises, overdue amounts and phone numbers, so the number of
queries does not grow with the rows.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Min, Q, QuerySet, Sum
from django.utils import timezone

from recoup.activity import rules
from recoup.activity.models import Promise, PromiseStatus, Task, TaskStatus
from recoup.core.money import Money, minor_units
from recoup.insights.selectors import PriorityTerms, priority_terms
from recoup.ledger.aging import rates_as_of
from recoup.ledger.models import Contact, Customer, Invoice
from recoup.ledger.selectors import RateUsed

PROMISE_HORIZON_DAYS = 3  # promises due within this many days are on the list
PAGE_SIZE = 50
ZERO = Decimal(0)


@dataclass
class WorkRow:
    """One customer on the list: the score's terms, why it is there, and what to do next."""

    customer_id: int
    name: str
    external_id: str
    terms: rules.ScoreTerms
    oldest_due: dt.date | None
    unconverted: int  # open overdue invoices in a currency with no rate: left out of the terms
    priority: PriorityTerms | None = None  # None: not scored yet (ranked by the overdue terms alone)
    tasks_due: list[Task] = field(default_factory=list)
    promises_due: list[Promise] = field(default_factory=list)
    needs_action: bool = False
    next_action: rules.Suggestion | None = None

    @property
    def reasons(self) -> list[str]:
        why = []
        if self.tasks_due:
            n = len(self.tasks_due)
            why.append(f"{n} task{'s' if n != 1 else ''} due")
        if self.promises_due:
            n = len(self.promises_due)
            why.append(f"{n} promise{'s' if n != 1 else ''} falling due")
        if self.needs_action:
            why.append("overdue, and nobody is on it")
        return why


@dataclass
class Worklist:
    collector_id: int
    today: dt.date
    currency: str
    horizon: int
    rows: list[WorkRow]
    total: int
    page: int
    page_size: int
    rates: list[RateUsed]

    @property
    def has_next(self) -> bool:
        return self.page * self.page_size < self.total

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def worklist(
    *,
    collector: Any,
    today: dt.date,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    horizon: int = PROMISE_HORIZON_DAYS,
) -> Worklist:
    """`collector`'s list for `today`, ordered by score (highest first), then by customer id (the order
    customers were loaded in); one page of it. Customers' names are read for the page's rows only."""
    page = max(1, page)
    base = settings.BASE_CURRENCY
    rates = rates_as_of(today)
    sql, params = _worklist_sql(
        user_id=collector.pk,
        today=today,
        horizon_end=today + dt.timedelta(days=horizon),
        rates=rates,
        places=minor_units(base),
        limit=page_size,
        offset=(page - 1) * page_size,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    rows: list[WorkRow] = []
    total = 0
    places = minor_units(base)
    for customer_id, name, external_id, overdue, weighted, unconverted, oldest, count in fetched:
        total = count
        rows.append(
            WorkRow(
                customer_id=customer_id,
                name=name,
                external_id=external_id,
                terms=rules.finish_terms(_decimal(overdue), _decimal(weighted), places=places),
                oldest_due=_date(oldest),
                unconverted=int(unconverted or 0),
            )
        )
    if not rows and page > 1:  # past the last page
        total = 0
    facts = _facts([r.customer_id for r in rows], today)
    priorities = priority_terms([r.customer_id for r in rows]) if rows else {}
    for row in rows:
        row.priority = priorities.get(row.customer_id)
        mine = [t for t in facts.tasks[row.customer_id] if t.owner_id == collector.pk]
        row.tasks_due = [t for t in mine if t.due_date <= today]
        row.promises_due = [
            p
            for p in facts.promises[row.customer_id]
            if p.promised_date <= today + dt.timedelta(days=horizon)
            and (p.owner_id == collector.pk or p.owner_id is None)
        ]
        row.needs_action = (
            not facts.tasks[row.customer_id]
            and not facts.promises[row.customer_id]
            and row.oldest_due is not None
        )
        row.next_action = facts.suggestion(row.customer_id, today)
    return Worklist(
        collector_id=collector.pk,
        today=today,
        currency=base,
        horizon=horizon,
        rows=rows,
        total=total,
        page=page,
        page_size=page_size,
        rates=[r for c, r in sorted(rates.items()) if c != base],
    )


def _decimal(value: Any) -> Decimal:
    if value is None:
        return ZERO
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _worklist_sql(
    *,
    user_id: int,
    today: dt.date,
    horizon_end: dt.date,
    rates: dict[str, RateUsed],
    places: int,
    limit: int,
    offset: int,
) -> tuple[str, list[Any]]:
    """The statement and its parameters, in the order of the placeholders in the text."""
    postgres = connection.vendor == "postgresql"
    rate_case = "CASE i.currency " + " ".join("WHEN %s THEN %s" for _ in rates) + " END"
    rate_params: list[Any] = [p for r in rates.values() for p in (r.currency, r.rate)]
    days = "(%s::date - i.due_date)" if postgres else "CAST(julianday(%s) - julianday(i.due_date) AS INTEGER)"
    # One pass over the open overdue invoices of the collector's customers (and of the customers on the list
    # for a task or a promise only), through the partial index of open invoices: it gives both the
    # customers needing action and every row's score terms.
    sql = f"""
        WITH worked AS (
            SELECT t.customer_id FROM activity_task t
            WHERE t.owner_id = %s AND t.status = 'open' AND t.due_date <= %s
            UNION
            SELECT p.customer_id FROM activity_promise p JOIN ledger_customer pc ON pc.id = p.customer_id
            WHERE p.status = 'pending' AND p.promised_date <= %s
              AND (p.owner_id = %s OR (p.owner_id IS NULL AND pc.collector_id = %s))
        ),
        scope AS (
            SELECT c.id AS customer_id, 1 AS mine FROM ledger_customer c WHERE c.collector_id = %s
            UNION ALL
            SELECT w.customer_id, 0 FROM worked w
            WHERE NOT EXISTS (SELECT 1 FROM ledger_customer wc
                              WHERE wc.id = w.customer_id AND wc.collector_id = %s)
        ),
        items AS (
            SELECT i.customer_id, m.mine, i.due_date, i.open_amount, {rate_case} AS rate, {days} AS days
            FROM scope m JOIN ledger_invoice i ON i.customer_id = m.customer_id
            WHERE i.open_amount > 0 AND i.due_date < %s
        ),
        score AS (
            SELECT customer_id,
                   MAX(mine) AS mine,
                   SUM(open_amount * rate) AS overdue,
                   SUM(open_amount * rate * days) AS weighted,
                   SUM(CASE WHEN rate IS NULL THEN 1 ELSE 0 END) AS unconverted,
                   MIN(due_date) AS oldest
            FROM items GROUP BY customer_id
        ),
        cand AS (
            SELECT s.customer_id FROM score s
            WHERE s.mine = 1
              AND NOT EXISTS (SELECT 1 FROM activity_task t
                              WHERE t.customer_id = s.customer_id AND t.status = 'open')
              AND NOT EXISTS (SELECT 1 FROM activity_promise p
                              WHERE p.customer_id = s.customer_id AND p.status = 'pending')
            UNION
            SELECT customer_id FROM worked
        ),
        page AS (
            SELECT cand.customer_id, s.overdue, s.weighted, s.unconverted, s.oldest,
                   COALESCE(pr.score, 0) AS priority, COUNT(*) OVER () AS total
            FROM cand LEFT JOIN score s ON s.customer_id = cand.customer_id
                 LEFT JOIN insights_customerpriority pr ON pr.customer_id = cand.customer_id
            ORDER BY priority DESC, COALESCE(s.weighted, 0) DESC, cand.customer_id
            LIMIT %s OFFSET %s
        )
        SELECT c.id, c.name, c.external_id, {_text("p.overdue", places, postgres)},
               {_text("p.weighted", places, postgres)}, p.unconverted, p.oldest, p.total
        FROM page p JOIN ledger_customer c ON c.id = p.customer_id
        ORDER BY p.priority DESC, COALESCE(p.weighted, 0) DESC, p.customer_id"""
    worked = [user_id, today, horizon_end, user_id, user_id]
    return sql, [*worked, user_id, user_id, *rate_params, today, today, limit, offset]


def _text(column: str, places: int, postgres: bool) -> str:
    if postgres:
        return column
    return f"printf('%%.{places + 2}f', {column})"


# The facts behind a row and its next action -----------------------------------------------------------------


@dataclass
class Facts:
    """For a set of customers: their open tasks (by due date), pending promises (by date), overdue amounts by
    currency with the oldest due date, and which have a phone number. Four queries, however many."""

    tasks: dict[int, list[Task]]
    promises: dict[int, list[Promise]]
    overdue: dict[int, list[tuple[str, Decimal]]]
    oldest: dict[int, dt.date]
    phones: set[int]

    def suggestion(self, customer_id: int, today: dt.date) -> rules.Suggestion:
        tasks = self.tasks[customer_id]
        promises = self.promises[customer_id]
        task = tasks[0] if tasks else None
        promise = promises[0] if promises else None
        oldest = self.oldest.get(customer_id)
        return rules.suggest(
            rules.CustomerFacts(
                today=today,
                task=(task.pk, task.get_kind_display().lower(), task.title, task.due_date) if task else None,
                promise=(
                    (
                        promise.pk,
                        str(Money(promise.amount, promise.currency)),
                        promise.promised_date,
                        rules.promise_deadline(promise.promised_date, promise.grace_days),
                    )
                    if promise
                    else None
                ),
                overdue_text=" + ".join(str(Money(a, c)) for c, a in self.overdue.get(customer_id, [])),
                oldest_days=(today - oldest).days if oldest else 0,
                has_phone=customer_id in self.phones,
            )
        )


def _facts(customer_ids: Sequence[int], today: dt.date) -> Facts:
    tasks: dict[int, list[Task]] = defaultdict(list)
    promises: dict[int, list[Promise]] = defaultdict(list)
    overdue: dict[int, list[tuple[str, Decimal]]] = defaultdict(list)
    oldest: dict[int, dt.date] = {}
    if not customer_ids:
        return Facts(tasks, promises, overdue, oldest, set())
    ids = list(customer_ids)
    for task in (
        Task.objects.filter(customer_id__in=ids, status=TaskStatus.OPEN)
        .select_related("owner")
        .order_by("due_date", "id")
    ):
        tasks[task.customer_id].append(task)
    for promise in Promise.objects.filter(customer_id__in=ids, status=PromiseStatus.PENDING).order_by(
        "promised_date", "id"
    ):
        promises[promise.customer_id].append(promise)
    for customer_id, currency, amount, first in (
        Invoice.objects.filter(customer_id__in=ids, open_amount__gt=0, due_date__lt=today)
        .values("customer_id", "currency")
        .annotate(total=Sum("open_amount"), first=Min("due_date"))
        .order_by("customer_id", "currency")
        .values_list("customer_id", "currency", "total", "first")
    ):
        overdue[customer_id].append((currency, _decimal(amount)))
        oldest[customer_id] = min(first, oldest.get(customer_id, first))
    phones = set(
        Contact.objects.filter(customer_id__in=ids).exclude(phone="").values_list("customer_id", flat=True)
    )
    return Facts(tasks, promises, overdue, oldest, phones)


def next_action(customer: Customer | int, *, today: dt.date | None = None) -> rules.Suggestion:
    """What to do next with a customer, with the reason (rules.suggest): a task that is due, a promise that
    falls due, or a call (else an email) about an overdue balance nobody works. Four queries."""
    pk = customer if isinstance(customer, int) else customer.pk
    today = today or timezone.localdate()
    return _facts([pk], today).suggestion(pk, today)


# Task lists -------------------------------------------------------------------------------------------------

TASK_SCOPES = ("mine", "team", "all")
TASK_STATUSES = ("open", "done", "cancelled", "all")


def task_scope_q(user: Any, scope: str) -> Q:
    """mine: owned by the user, or unowned and left for their role (or anyone); team: owned by a member of
    the user's team; all: every task."""
    if scope == "mine":
        return Q(owner_id=user.pk) | Q(owner__isnull=True, role__in=("", user.role))
    if scope == "team":
        return Q(owner__team_id=user.team_id) if user.team_id else Q(pk__in=[])
    return Q()


def task_list(*, user: Any, scope: str = "mine", status: str = "open") -> QuerySet[Task]:
    tasks = Task.objects.filter(task_scope_q(user, scope))
    if status != "all":
        tasks = tasks.filter(status=status)
    return tasks.select_related("customer", "owner", "rule").order_by("due_date", "id")


# Promise kept rate ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CollectorRate:
    user_id: int | None
    username: str
    rate: rules.KeptRate


def promise_kept_rate(
    *, start: dt.date, end: dt.date, customer_filter: Q | None = None
) -> tuple[rules.KeptRate, list[CollectorRate]]:
    """Kept ÷ come due (rules.KeptRate) over the promises whose promised date falls from `start` to `end`,
    overall and per owner (the collector who follows each up; None: nobody, listed last). One query."""
    promises = Promise.objects.filter(promised_date__range=(start, end), status__in=rules.DECIDED)
    if customer_filter is not None:
        promises = promises.filter(customer_filter)
    rows = (
        promises.values("owner_id", "owner__username")
        .annotate(
            kept=Count("id", filter=Q(status=PromiseStatus.KEPT)),
            partially=Count("id", filter=Q(status=PromiseStatus.PARTIALLY_KEPT)),
            broken=Count("id", filter=Q(status=PromiseStatus.BROKEN)),
        )
        .order_by()
    )
    per = [
        CollectorRate(
            r["owner_id"], r["owner__username"] or "", rules.KeptRate(r["kept"], r["partially"], r["broken"])
        )
        for r in rows
    ]
    per.sort(key=lambda c: (c.user_id is None, c.username, c.user_id or 0))  # by name, nobody last
    overall = rules.KeptRate(
        sum(c.rate.kept for c in per),
        sum(c.rate.partially_kept for c in per),
        sum(c.rate.broken for c in per),
    )
    return overall, per
