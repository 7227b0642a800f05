"""Tasks made by rules, and what people do with tasks: reassign, snooze, complete, one at a time or in bulk.

`rule_task` is the one way a rule (dunning call levels, broken promises, dispute SLA breaches, credit limits)
makes a task (DESIGN.md, "Activity"): the trigger's TaskRule says whether it fires, the kind and when it is
due; its key `<trigger>:<subject>` keeps one open task per subject; and assignment goes, in order, to

1. the person the caller names (`owner`: a promise's owner, a dispute team's manager), if active;
2. the customer's collector, if active (work for collectors only);
3. the next active member of the rule's team, round robin (RoundRobin, locked);
4. the first active AssignmentRule matching the customer's segment and open balance (work for collectors
   only): its user, or round robin in its team;
5. nobody: the task waits for anyone with its role (collector by default).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Case, DecimalField, F, OuterRef, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, Concat
from django.utils import timezone

from recoup.activity import rules
from recoup.activity.models import (
    AssignmentRule,
    EntryKind,
    RoundRobin,
    Task,
    TaskKind,
    TaskRule,
    TaskStatus,
    TaskTrigger,
)
from recoup.activity.permissions import check_task_actor
from recoup.activity.services import task_complete, task_create, timeline_add
from recoup.core.errors import DomainError, NotAllowed
from recoup.core.events import record_event
from recoup.core.money import Money
from recoup.ledger.aging import rates_as_of
from recoup.ledger.models import Customer, Invoice
from recoup.users.models import MANAGE_ROLES, WRITE_ROLES, Role, Team, User

BULK_MAX = 500
RATE = DecimalField(max_digits=20, decimal_places=10)
MONEY = DecimalField(max_digits=30, decimal_places=10)


# The rule engine --------------------------------------------------------------------------------------------


def source_key(trigger: str, subject: object) -> str:
    return f"{trigger}:{subject}"


def rule_task(
    *,
    trigger: str,
    customer: Customer,
    subject: object,
    title: str,
    description: str = "",
    invoices: Iterable[Invoice | int] = (),
    amount: Decimal | None = None,
    today: dt.date,
    actor: Any = None,
    owner: User | None = None,
    role: str = Role.COLLECTOR,
) -> tuple[Task | None, bool]:
    """The task `trigger` makes for `subject`, or (None, False) when its rule is missing, inactive, or asks
    for more than `amount` (base currency; None: unknown, e.g. no FX rate, and the task is made). While a
    task of the same key is open it is returned, with False, and nobody's round robin moves."""
    rule = TaskRule.objects.filter(trigger=trigger).select_related("team").first()
    if rule is None or not rule.is_active:
        return None, False
    if amount is not None and amount < rule.min_amount:
        return None, False
    key = source_key(trigger, subject)
    existing = Task.objects.filter(source_key=key, status=TaskStatus.OPEN).first()
    if existing is not None:
        return existing, False
    with transaction.atomic():
        assignee, how = assign(rule=rule, customer=customer, owner=owner, role=role)
        assigned = f"Assigned to {_name(assignee, role)}: {how}."
        body = f"{description}\n{assigned}" if description else assigned
        return task_create(
            actor=actor,
            customer=customer,
            kind=rule.kind,
            title=title,
            description=body,
            due_date=today + dt.timedelta(days=rule.due_in_days),
            owner=assignee,
            role="" if assignee is not None else role,
            invoices=invoices,
            source_key=key,
            rule=rule,
        )


def _name(user: User | None, role: str) -> str:
    return user.username if user is not None else f"any {role}"


def assign(*, rule: TaskRule, customer: Customer, owner: User | None, role: str) -> tuple[User | None, str]:
    """Who gets a task of `rule` for `customer`, and why (the module's docstring gives the order)."""
    if owner is not None and owner.is_active:
        return owner, "named by the rule's subject"
    for_collectors = role == Role.COLLECTOR
    collector_id = customer.collector_id
    if for_collectors and collector_id is not None:
        collector = User.objects.filter(pk=collector_id, is_active=True).first()
        if collector is not None:
            return collector, "the customer's collector"
    if rule.team is not None:
        member = round_robin(rule.team)
        if member is not None:
            return member, f"round robin in {rule.team.name}"
    if for_collectors:
        matched = _assignment_rule(customer)
        if matched is not None:
            return matched
    return None, f"nobody matched; any {role} may take it"


def round_robin(team: Team) -> User | None:
    """The team's next active member after the last one given a task (by id, wrapping round)."""
    members = list(
        User.objects.filter(team=team, is_active=True, role__in=WRITE_ROLES)
        .order_by("id")
        .values_list("id", flat=True)
    )
    if not members:
        return None
    RoundRobin.objects.get_or_create(team=team)
    state = RoundRobin.objects.select_for_update().get(team=team)
    chosen = rules.next_member(members, state.last_user_id)
    if chosen is None:
        return None
    RoundRobin.objects.filter(team=team).update(last_user_id=chosen)
    return User.objects.get(pk=chosen)


def _assignment_rule(customer: Customer) -> tuple[User | None, str] | None:
    balance: Decimal | None = None
    balance_known = False
    for candidate in AssignmentRule.objects.filter(is_active=True).select_related("user", "team"):
        banded = candidate.min_balance is not None or candidate.max_balance is not None
        if banded and not balance_known:
            balance, balance_known = customer_open_balance(customer), True
        if not rules.band_matches(
            rule_segment=candidate.segment,
            min_balance=candidate.min_balance,
            max_balance=candidate.max_balance,
            segment=customer.segment,
            balance=balance,
        ):
            continue
        why = f"assignment rule {candidate.position} ({candidate})"
        if candidate.user is not None and candidate.user.is_active:
            return candidate.user, why
        if candidate.team is not None:
            member = round_robin(candidate.team)
            if member is not None:
                return member, f"{why}, round robin in {candidate.team.name}"
    return None


def customer_open_balance(customer: Customer, today: dt.date | None = None) -> Decimal | None:
    """The customer's open invoices in the base currency at the latest rates (None: a currency lacks one)."""
    rates = rates_as_of(today or timezone.localdate())
    total = Decimal(0)
    rows = (
        Invoice.objects.filter(customer=customer, open_amount__gt=0)
        .values("currency")
        .annotate(open=Sum("open_amount"))
        .values_list("currency", "open")
    )
    for currency, amount in rows:
        if currency not in rates:
            return None
        total += Decimal(amount) * rates[currency].rate
    return total


# Credit limits ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreditCheck:
    over: int
    created: int

    def __str__(self) -> str:
        customers = f"{self.over} customer{'s' if self.over != 1 else ''}"
        tasks = f"{self.created} new task{'s' if self.created != 1 else ''}"
        return f"{customers} over the credit limit; {tasks}."


def customers_over_credit_limit(today: dt.date) -> QuerySet[Customer]:
    """Customers whose open invoices, in the base currency at the rates of `today`, exceed their credit limit
    (in their own currency, converted the same way), annotated with `open_base` and `limit_base`. Invoices in
    a currency with no rate are left out of the sum."""
    rates = rates_as_of(today)

    def rate_of(column: str) -> Case:
        whens = [When(**{column: c}, then=Value(r.rate, output_field=RATE)) for c, r in rates.items()]
        return Case(*whens, default=None, output_field=RATE)

    open_base = (
        Invoice.objects.filter(customer=OuterRef("pk"), open_amount__gt=0)
        .order_by()
        .values("customer")
        .annotate(total=Sum(F("open_amount") * rate_of("currency"), output_field=MONEY))
        .values("total")
    )
    return (
        Customer.objects.filter(credit_limit__isnull=False)
        .annotate(
            open_base=Coalesce(
                Subquery(open_base, output_field=MONEY), Value(Decimal(0), output_field=MONEY)
            ),
            limit_base=F("credit_limit") * rate_of("currency"),
        )
        .filter(open_base__gt=F("limit_base"))
    )


def tasks_check_credit_limits(*, actor: Any, today: dt.date) -> CreditCheck:
    """A review task for each customer over its credit limit, once per breach: a task finished while the
    customer is still over its limit settles that breach; once the customer is back within its limit the
    breach is over (its finished task's key is released), and the next one makes a new task."""
    over = customers_over_credit_limit(today)
    prefix = f"{TaskTrigger.CREDIT_LIMIT}:"
    # Breaches that ended: release the keys of their finished tasks.
    Task.objects.filter(source_key__startswith=prefix).exclude(status=TaskStatus.OPEN).exclude(
        customer_id__in=over.values("pk")
    ).update(source_key=Concat(F("source_key"), Value(f"@{today.isoformat()}")))
    rows = list(over.select_related("collector").order_by("id"))
    keys = {source_key(TaskTrigger.CREDIT_LIMIT, c.pk) for c in rows}
    taken: set[str] = set()
    key_list = sorted(keys)
    for start in range(0, len(key_list), BULK_MAX):
        taken.update(
            Task.objects.filter(source_key__in=key_list[start : start + BULK_MAX]).values_list(
                "source_key", flat=True
            )
        )
    base = settings.BASE_CURRENCY
    created = 0
    for customer in rows:
        if source_key(TaskTrigger.CREDIT_LIMIT, customer.pk) in taken:
            continue
        open_base = Money(Decimal(customer.open_base), base)  # type: ignore[attr-defined]
        limit = Money(customer.credit_limit or Decimal(0), customer.currency)
        task, made = rule_task(
            trigger=TaskTrigger.CREDIT_LIMIT,
            customer=customer,
            subject=customer.pk,
            title=f"Over the credit limit: {customer.name}",
            description=f"Open balance {open_base} against a credit limit of {limit}.",
            amount=Decimal(customer.open_base),  # type: ignore[attr-defined]
            today=today,
            actor=actor,
        )
        created += int(task is not None and made)
    return CreditCheck(over=len(rows), created=created)


# What people do with tasks ----------------------------------------------------------------------------------


def _open_locked(task: Task | int) -> Task:
    pk = task if isinstance(task, int) else task.pk
    locked = Task.objects.select_for_update(of=("self",)).select_related("owner").get(pk=pk)
    if locked.status != TaskStatus.OPEN:
        raise DomainError(f"The task is already {locked.get_status_display().lower()}.", field="status")
    return locked


def _check_new_owner(actor: Any, owner: User | None) -> None:
    if owner is not None and not (owner.is_active and owner.role in WRITE_ROLES):
        raise DomainError(f"{owner.username} cannot own a task (role {owner.role}).", field="owner")
    if actor is not None and not rules.may_give_task_to(
        role=actor.role, user_id=actor.pk, new_owner_id=owner.pk if owner is not None else None
    ):
        raise NotAllowed("Only a manager can leave a task to nobody.")


@transaction.atomic
def task_reassign(*, actor: Any, task: Task | int, owner: User | None, role: str = Role.COLLECTOR) -> Task:
    """Give an open task to `owner`, or (managers) to nobody, for anyone with `role`."""
    task = _open_locked(task)
    check_task_actor(actor, task)
    _check_new_owner(actor, owner)
    before = task.owner.username if task.owner is not None else f"any {task.role or 'one'}"
    new_role = "" if owner is not None else role
    if task.owner_id == (owner.pk if owner is not None else None) and task.role == new_role:
        return task
    task.owner, task.role = owner, new_role
    task.save(update_fields=["owner", "role", "updated_at"])
    after = _name(owner, role)
    _task_event(actor, task, f"Task reassigned: {task.title}", f"From {before} to {after}.")
    record_event(
        actor=actor, verb="task.reassigned", target=task, data={"from": before, "to": after, "role": new_role}
    )
    return task


@transaction.atomic
def task_snooze(*, actor: Any, task: Task | int, due_date: dt.date, today: dt.date) -> Task:
    """Move an open task's due date to `due_date`, today or later."""
    task = _open_locked(task)
    check_task_actor(actor, task)
    if due_date < today:
        raise DomainError(f"A task can be snoozed to {today.isoformat()} or later.", field="due_date")
    if due_date == task.due_date:
        return task
    before = task.due_date
    task.due_date = due_date
    task.save(update_fields=["due_date", "updated_at"])
    _task_event(
        actor,
        task,
        f"Task snoozed: {task.title}",
        f"Due {due_date.isoformat()} instead of {before.isoformat()}.",
    )
    record_event(
        actor=actor,
        verb="task.snoozed",
        target=task,
        data={"from": before.isoformat(), "to": due_date.isoformat()},
    )
    return task


def _task_event(actor: Any, task: Task, title: str, body: str) -> None:
    timeline_add(
        customer=task.customer_id,
        kind=EntryKind.TASK,
        title=title,
        body=body,
        status=task.status,
        source=task,
        invoices=list(task.invoices.values_list("pk", flat=True)),
        actor=actor,
    )


@transaction.atomic
def task_add(
    *,
    actor: Any,
    customer: Customer,
    kind: str,
    title: str,
    due_date: dt.date,
    owner: User | None,
    description: str = "",
    invoices: Sequence[Invoice] = (),
    role: str = Role.COLLECTOR,
) -> Task:
    """A task made by hand. Anyone who works (not a viewer) adds one for a colleague who works; only
    managers leave it to nobody (for anyone with `role`)."""
    if actor is not None and not actor.has_role(WRITE_ROLES):
        raise NotAllowed("Your role does not allow this.")
    _check_new_owner(actor, owner)
    if kind not in TaskKind.values:
        raise DomainError(f"The kind is one of {', '.join(TaskKind.values)}.", field="kind")
    if not title.strip():
        raise DomainError("Give the task a title.", field="title")
    if any(invoice.customer_id != customer.pk for invoice in invoices):
        raise DomainError("Every invoice of a task must belong to its customer.", field="invoices")
    task, _ = task_create(
        actor=actor,
        customer=customer,
        kind=kind,
        title=title.strip(),
        description=description,
        due_date=due_date,
        owner=owner,
        role="" if owner is not None else role,
        invoices=list(invoices),
    )
    return task


BULK_ACTIONS = ("complete", "reassign", "snooze")


@transaction.atomic
def tasks_bulk(
    *,
    actor: Any,
    action: str,
    task_ids: Sequence[int],
    today: dt.date,
    owner: User | None = None,
    role: str = Role.COLLECTOR,
    due_date: dt.date | None = None,
) -> list[Task]:
    """Complete, reassign or snooze many tasks at once: all of them or none. Every task must exist, be open
    and be one the actor may act on; the first that is not refuses the whole batch."""
    if action not in BULK_ACTIONS:
        raise DomainError(f"The action must be one of {', '.join(BULK_ACTIONS)}.", field="action")
    ids = list(dict.fromkeys(task_ids))
    if not ids:
        raise DomainError("Choose at least one task.", field="tasks")
    if len(ids) > BULK_MAX:
        raise DomainError(f"At most {BULK_MAX} tasks at once.", field="tasks")
    if action == "snooze" and due_date is None:
        raise DomainError("Give the new due date.", field="due_date")
    found = {t.pk: t for t in Task.objects.select_for_update(of=("self",)).filter(pk__in=ids)}
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise DomainError(f"No task {', '.join(map(str, missing))}.", field="tasks")
    for pk in ids:
        check_task_actor(actor, found[pk])
    closed = [pk for pk in ids if found[pk].status != TaskStatus.OPEN]
    if closed:
        raise DomainError(f"Task {', '.join(map(str, closed))} is no longer open.", field="tasks")
    if action == "reassign":
        _check_new_owner(actor, owner)
    done = []
    for pk in ids:
        if action == "complete":
            done.append(task_complete(actor=actor, task=found[pk]))
        elif action == "reassign":
            done.append(task_reassign(actor=actor, task=pk, owner=owner, role=role))
        else:
            assert due_date is not None
            done.append(task_snooze(actor=actor, task=pk, due_date=due_date, today=today))
    return done


def total_in_base(totals: Mapping[str, Decimal], as_of: dt.date) -> Decimal | None:
    """Amounts by currency, in the base currency at the rates of `as_of` (None: a currency lacks a rate)."""
    rates = rates_as_of(as_of)
    if any(currency not in rates for currency in totals):
        return None
    return sum((amount * rates[currency].rate for currency, amount in totals.items()), Decimal(0))


# Configuring the rules (managers) ---------------------------------------------------------------------------

TASK_RULE_FIELDS = ("is_active", "kind", "due_in_days", "team", "min_amount")
ASSIGNMENT_RULE_FIELDS = ("position", "is_active", "segment", "min_balance", "max_balance", "user", "team")


def _check_manager(actor: Any) -> None:
    if actor is not None and not actor.has_role(MANAGE_ROLES):
        raise NotAllowed("Only managers and admins configure task rules.")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    return getattr(value, "pk", value)


@transaction.atomic
def task_rule_update(*, actor: Any, rule: TaskRule, **fields: Any) -> TaskRule:
    """Change how a trigger makes its tasks (is_active, kind, due_in_days, team, min_amount)."""
    _check_manager(actor)
    unknown = set(fields) - set(TASK_RULE_FIELDS)
    if unknown:
        raise TypeError(f"unknown fields: {sorted(unknown)}")
    if "min_amount" in fields and fields["min_amount"] is not None and fields["min_amount"] < 0:
        raise DomainError("The minimum amount cannot be negative.", field="min_amount")
    rule = TaskRule.objects.select_for_update().get(pk=rule.pk)
    changes = {}
    for name, value in fields.items():
        old = getattr(rule, name)
        if old != value:
            changes[name] = [_jsonable(old), _jsonable(value)]
            setattr(rule, name, value)
    if changes:
        rule.save()
        record_event(actor=actor, verb="task_rule.updated", target=rule, data=changes)
    return rule


@transaction.atomic
def assignment_rule_save(*, actor: Any, rule: AssignmentRule | None = None, **fields: Any) -> AssignmentRule:
    """Create an assignment rule, or change one: a segment and/or a base-currency balance band, going to a
    user or round robin in a team."""
    _check_manager(actor)
    unknown = set(fields) - set(ASSIGNMENT_RULE_FIELDS)
    if unknown:
        raise TypeError(f"unknown fields: {sorted(unknown)}")
    target = rule or AssignmentRule()
    before = {name: _jsonable(getattr(target, name)) for name in ASSIGNMENT_RULE_FIELDS} if rule else {}
    for name, value in fields.items():
        setattr(target, name, value)
    if target.user_id is None and target.team_id is None:
        raise DomainError("Give the rule a user or a team.", field="user")
    if target.user is not None and not (target.user.is_active and target.user.role in WRITE_ROLES):
        raise DomainError(f"{target.user.username} cannot be given tasks.", field="user")
    low, high = target.min_balance, target.max_balance
    if low is not None and high is not None and high <= low:
        raise DomainError("The band's upper bound must be above its lower bound.", field="max_balance")
    if (low is not None and low < 0) or (high is not None and high < 0):
        raise DomainError("A balance bound cannot be negative.", field="min_balance")
    target.segment = (target.segment or "").strip()
    target.save()
    after = {name: _jsonable(getattr(target, name)) for name in ASSIGNMENT_RULE_FIELDS}
    record_event(
        actor=actor,
        verb="assignment_rule.updated" if rule else "assignment_rule.created",
        target=target,
        data={k: [before.get(k), v] for k, v in after.items() if before.get(k) != v},
    )
    return target


@transaction.atomic
def assignment_rule_delete(*, actor: Any, rule: AssignmentRule) -> None:
    _check_manager(actor)
    record_event(actor=actor, verb="assignment_rule.deleted", target=rule, data={"rule": str(rule)})
    rule.delete()
