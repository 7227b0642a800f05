"""Writes for dunning: runs, policies, holds and retries. Keyword-only, atomic, with an actor and an event.

A run writes its plan customer chunk by customer chunk, each chunk in one transaction: the invoices' new
levels, their history, and the outbox rows with their items. A crash loses at most the chunk in progress,
which rolls back whole; the re-run for the same date plans exactly what is left, because moved invoices are
at their new level and the outbox key (customer, level, channel, as-of date) is unique.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from recoup.activity.models import EntryKind, TaskKind
from recoup.activity.services import task_create, timeline_add
from recoup.core.errors import DomainError
from recoup.core.events import record_event
from recoup.core.mail import message_id_domain, new_message_id
from recoup.dunning.models import (
    DunningHold,
    DunningLevel,
    DunningPolicy,
    DunningRun,
    DunningStep,
    DunningTemplate,
    InvoiceDunning,
    MessageItem,
    MessageStatus,
    OutboundMessage,
    RunStatus,
)
from recoup.dunning.planning import CustomerPlan, Plan, build_plan
from recoup.dunning.policies import PolicySpec, check_template
from recoup.ledger import services as ledger_services
from recoup.ledger.models import Customer, Invoice

CHUNK = 500  # customers per transaction


@dataclass(frozen=True)
class RunResult:
    run: DunningRun | None  # None for a dry run
    plan: Plan
    report: dict[str, Any]


def dunning_run(*, actor: Any, as_of: dt.date, dry_run: bool = False, chunk: int = CHUNK) -> RunResult:
    """Plan the run for `as_of` and (unless `dry_run`) write it. Refuses a date before the last run's."""
    if dry_run:
        _check_date(as_of)
        plan = build_plan(as_of=as_of)
        return RunResult(None, plan, run_report(plan, dry_run=True))
    today = timezone.localdate()
    if as_of > today:
        raise DomainError(
            f"A run as of {as_of} is after today ({today}): it would move invoices early and refuse every "
            "run before that date. Plan it with a dry run, or run it on the day.",
            field="as_of",
            code="future_run",
        )
    run = _start(actor=actor, as_of=as_of)
    try:
        plan = build_plan(as_of=as_of)
        written = Counter[str]()
        for customers in _chunks(plan.customers, chunk):
            with transaction.atomic():
                written.update(_write(run, plan, customers, actor))
                DunningRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())
    except BaseException as exc:
        DunningRun.objects.filter(pk=run.pk).update(
            status=RunStatus.FAILED, finished_at=timezone.now(), error=f"{type(exc).__name__}: {exc}"
        )
        raise
    report = run_report(plan, dry_run=False, written=written)
    DunningRun.objects.filter(pk=run.pk).update(
        status=RunStatus.PLANNED, finished_at=timezone.now(), report=report
    )
    run.refresh_from_db()
    record_event(actor=actor, verb="dunning.run", target=run, data={"as_of": as_of.isoformat(), **written})
    return RunResult(run, plan, report)


def _check_date(as_of: dt.date) -> None:
    last = DunningRun.objects.aggregate(last=Max("as_of"))["last"]
    if last is not None and as_of < last:
        raise DomainError(
            f"A run as of {as_of} is refused: the last run was as of {last}, and runs never go back in time.",
            field="as_of",
            code="earlier_than_last_run",
        )


def _start(*, actor: Any, as_of: dt.date) -> DunningRun:
    """Create the run row, which is the lock: one run plans at a time (a unique partial constraint). A run
    whose heartbeat stopped longer ago than RECOUP_DUNNING_RUN_LEASE_SECONDS is taken over."""
    lease = dt.timedelta(seconds=settings.RECOUP_DUNNING_RUN_LEASE_SECONDS)
    for _ in range(2):
        with transaction.atomic():
            _check_date(as_of)
            try:
                with transaction.atomic():
                    return DunningRun.objects.create(
                        as_of=as_of, actor=actor if getattr(actor, "pk", None) else None
                    )
            except IntegrityError:
                pass
            stale = DunningRun.objects.filter(
                status=RunStatus.PLANNING, heartbeat_at__lt=timezone.now() - lease
            )
            if not stale.update(
                status=RunStatus.FAILED, error="abandoned: no heartbeat", finished_at=timezone.now()
            ):
                other = DunningRun.objects.filter(status=RunStatus.PLANNING).first()
                since = other.started_at.isoformat(timespec="seconds") if other else "a moment ago"
                raise DomainError(
                    f"Another dunning run has been in progress since {since}.", code="run_in_progress"
                )
    raise DomainError("Another dunning run is in progress.", code="run_in_progress")


def _chunks(items: Sequence[CustomerPlan], size: int) -> Iterator[list[CustomerPlan]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _write(run: DunningRun, plan: Plan, customers: list[CustomerPlan], actor: Any) -> Counter[str]:
    """One chunk: states, steps, outbox rows and their items, then the levels' actions."""
    written: Counter[str] = Counter()
    states, steps, messages, items_of = [], [], [], []
    domain = message_id_domain()
    for customer_plan in customers:
        customer_id = customer_plan.customer.id
        for decision in customer_plan.moves:
            assert decision.target is not None
            states.append(
                InvoiceDunning(
                    invoice_id=decision.invoice_id, level_id=decision.target.id, moved_on=plan.as_of, run=run
                )
            )
            steps.append(
                DunningStep(
                    invoice_id=decision.invoice_id,
                    level_id=decision.target.id,
                    from_level_id=decision.current_level_id,
                    run=run,
                    as_of=plan.as_of,
                    dunned_amount=decision.dunnable,
                    currency=decision.currency,
                )
            )
        listed = customer_plan.listed()
        for communication in customer_plan.communications:
            messages.append(
                OutboundMessage(
                    customer_id=customer_id,
                    level_id=communication.level.id,
                    channel=communication.channel,
                    as_of=plan.as_of,
                    run=run,
                    send_at=communication.send_at,
                    language=customer_plan.customer.language or "en",
                    message_id=new_message_id("dunning", domain) if communication.channel == "email" else "",
                )
            )
            items_of.append(listed)
        written["invoices_moved"] += len(customer_plan.moves)
    InvoiceDunning.objects.bulk_create(
        states, update_conflicts=True, unique_fields=["invoice"], update_fields=["level", "moved_on", "run"]
    )
    DunningStep.objects.bulk_create(steps)
    OutboundMessage.objects.bulk_create(messages)
    MessageItem.objects.bulk_create(
        MessageItem(
            message=message,
            invoice_id=decision.invoice_id,
            level_id=decision.level_id,
            is_new=decision.target is not None,
            open_amount=decision.open,
            disputed_amount=decision.disputed,
            currency=decision.currency,
            days_past_due=decision.days_past_due,
        )
        for message, listed in zip(messages, items_of, strict=True)
        for decision in listed
    )
    written["messages"] += len(messages)
    for customer_plan in customers:
        written.update(_actions(run, plan, customer_plan, actor))
    return written


def _actions(run: DunningRun, plan: Plan, customer_plan: CustomerPlan, actor: Any) -> Counter[str]:
    """The escalation actions of the levels reached: a review task for a role, a credit hold."""
    done: Counter[str] = Counter()
    customer: Customer | None = None
    for level in customer_plan.action_levels():
        role, credit_hold = plan.level_actions[level.id]
        if not role and not credit_hold:
            continue
        customer = customer or Customer.objects.get(pk=customer_plan.customer.id)
        policy_name, level_name = plan.levels[level.id]
        invoices = [
            d.invoice_id for d in customer_plan.moves if d.target is not None and d.target.id == level.id
        ]
        if role:
            _, created = task_create(
                actor=actor,
                customer=customer,
                kind=TaskKind.ESCALATION,
                title=f"{level_name}: review {customer.name}",
                description=f"Dunning policy {policy_name} reached {level_name} as of {plan.as_of}.",
                due_date=plan.as_of,
                role=role,
                invoices=invoices,
                source_key=f"dunning-action:{customer.pk}:{level.id}",
            )
            done["tasks"] += int(created)
        if credit_hold and not customer.on_hold:
            ledger_services.customer_update(actor=actor, customer=customer, on_hold=True)
            timeline_add(
                customer=customer,
                kind=EntryKind.CREDIT_HOLD,
                title=f"Credit hold set by dunning ({level_name})",
                body=f"Run {run.pk} as of {plan.as_of}.",
                source=run,
                invoices=invoices,
                actor=actor,
            )
            done["credit_holds"] += 1
    return done


def run_report(plan: Plan, *, dry_run: bool, written: Counter[str] | None = None) -> dict[str, Any]:
    """The run's summary: customers, messages by level and channel, skipped invoices by reason."""
    by_level: dict[str, Counter[str]] = {}
    policies = {name for name, _ in plan.levels.values()}
    for _, communication in plan.outgoing():
        policy_name, level_name = plan.levels[communication.level.id]
        label = level_name if len(policies) == 1 else f"{policy_name} / {level_name}"
        by_level.setdefault(label, Counter())[communication.channel] += 1
    written = written or Counter()
    return {
        "as_of": plan.as_of.isoformat(),
        "dry_run": dry_run,
        "customers": len(plan.customers),
        "messages_total": plan.messages,
        "messages": {label: dict(sorted(counts.items())) for label, counts in by_level.items()},
        "invoices_moved": sum(len(c.moves) for c in plan.customers),
        "skipped": dict(sorted(plan.skipped.items())),
        "actions": {"tasks": written.get("tasks", 0), "credit_holds": written.get("credit_holds", 0)},
        "fx_rates": [{"currency": r.currency, "rate": str(r.rate), "date": str(r.date)} for r in plan.rates],
    }


# Policies ---------------------------------------------------------------------------------------------------


@transaction.atomic
def policy_save(*, actor: Any, spec: PolicySpec) -> tuple[DunningPolicy, bool]:
    """Create the policy named in `spec`, or make the existing one match it; the flag says whether it is new.

    Levels are matched by position. A level that invoices or messages have reached can be renamed and
    re-timed but not removed: its history would lose its meaning.
    """
    policy, created = DunningPolicy.objects.select_for_update().get_or_create(name=spec.name)
    if policy.is_default and not spec.is_default:
        raise DomainError(
            f"{policy.name} is the default policy: make another policy the default instead of unsetting it.",
            field="default",
        )
    if spec.is_default and not policy.is_default:
        DunningPolicy.objects.filter(is_default=True).update(is_default=False)
    policy.description = spec.description
    policy.is_default = spec.is_default
    policy.allow_level_jump = spec.allow_level_jump
    policy.tolerance = spec.tolerance
    policy.default_language = spec.default_language
    policy.save()
    existing = {level.position: level for level in policy.levels.all()}
    for position, level_spec in enumerate(spec.levels, start=1):
        level = existing.pop(position, None) or DunningLevel(policy=policy, position=position)
        level.name = level_spec.name
        level.offset_days = level_spec.offset_days
        level.channels = level_spec.channels
        level.min_amount = level_spec.min_amount
        level.min_gap_days = level_spec.min_gap_days
        level.task_role = level_spec.task_role
        level.set_credit_hold = level_spec.set_credit_hold
        level.save()
        level.templates.exclude(language__in=level_spec.templates).delete()
        for language, text in level_spec.templates.items():
            DunningTemplate.objects.update_or_create(level=level, language=language, defaults=text)
    for position, level in sorted(existing.items()):
        if _level_in_use(level):
            raise DomainError(
                f"Level {position} ({level.name}) of {policy.name} has been reached by invoices or messages, "
                "so it cannot be removed; keep it, or create a new policy.",
                field="levels",
            )
        level.delete()
    record_event(
        actor=actor,
        verb="dunning_policy.created" if created else "dunning_policy.updated",
        target=policy,
        data={"levels": len(spec.levels)},
    )
    return policy, created


def _level_in_use(level: DunningLevel) -> bool:
    return (
        InvoiceDunning.objects.filter(level=level).exists()
        or DunningStep.objects.filter(level=level).exists()
        or OutboundMessage.objects.filter(level=level).exists()
    )


@transaction.atomic
def policy_delete(*, actor: Any, policy: DunningPolicy) -> None:
    if policy.is_default:
        raise DomainError("The default policy cannot be deleted; make another policy the default first.")
    users = (
        Customer.objects.filter(dunning_policy=policy).count()
        + Invoice.objects.filter(dunning_policy=policy).count()
    )
    if users:
        raise DomainError(f"{policy.name} is assigned to {users} customers or invoices; reassign them first.")
    if any(_level_in_use(level) for level in policy.levels.all()):
        raise DomainError(f"{policy.name} has dunning history, so it is kept.")
    record_event(actor=actor, verb="dunning_policy.deleted", target=policy, data={"name": policy.name})
    policy.delete()


@transaction.atomic
def template_save(
    *, actor: Any, level: DunningLevel, language: str, subject: str, body: str
) -> DunningTemplate:
    language = language.strip().lower()
    if not language or len(language) > 16:
        raise DomainError("Name the template's language, e.g. en or fr.", field="language")
    text = check_template(subject, body, where=f"The {language} template")
    template, created = DunningTemplate.objects.update_or_create(
        level=level, language=language, defaults=text
    )
    record_event(
        actor=actor,
        verb="dunning_template.created" if created else "dunning_template.updated",
        target=template,
        data={"level": level.pk, "language": language},
    )
    return template


# Holds and retries ------------------------------------------------------------------------------------------


@transaction.atomic
def hold_create(
    *,
    actor: Any,
    customer: Customer,
    reason: str,
    invoice: Invoice | None = None,
    until: dt.date | None = None,
) -> DunningHold:
    if invoice is not None and invoice.customer_id != customer.pk:
        raise DomainError("The invoice belongs to another customer.", field="invoice")
    reason = reason.strip()
    if not reason:
        raise DomainError("Say why dunning is on hold.", field="reason")
    if len(reason) > 255:
        raise DomainError("Keep the reason to 255 characters.", field="reason")
    if until is not None and until < timezone.localdate():
        raise DomainError(f"A hold cannot end in the past ({until}).", field="until")
    hold = DunningHold.objects.create(
        customer=customer,
        invoice=invoice,
        reason=reason,
        until=until,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    record_event(
        actor=actor, verb="dunning_hold.created", target=hold, data={"invoice": getattr(invoice, "pk", None)}
    )
    return hold


@transaction.atomic
def hold_release(*, actor: Any, hold: DunningHold) -> DunningHold:
    if not DunningHold.objects.filter(pk=hold.pk, released_at__isnull=True).update(
        released_at=timezone.now()
    ):
        raise DomainError("The hold is already released.")
    hold.refresh_from_db()
    record_event(actor=actor, verb="dunning_hold.released", target=hold)
    return hold


@transaction.atomic
def message_retry(*, actor: Any, message: OutboundMessage) -> OutboundMessage:
    """Put a finally failed message back in the queue, due now, with a fresh count of attempts."""
    if not OutboundMessage.objects.filter(pk=message.pk, status=MessageStatus.FAILED).update(
        status=MessageStatus.PENDING, attempts=0, next_attempt_at=timezone.now(), claim_token=""
    ):
        raise DomainError("Only a failed message can be retried.", field="status")
    message.refresh_from_db()
    record_event(
        actor=actor, verb="dunning_message.retried", target=message, data={"error": message.last_error}
    )
    return message
