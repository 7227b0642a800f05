"""Planning a run: which invoices move to which level as of a date, and what goes to whom on which channel.

Reads only. One query fetches every invoice open on the as-of date with its customer and dunning state;
small queries fetch what excludes invoices (disputes, holds, promises), the customers' last reminders and the
FX rates. The pure rules (recoup.dunning.rules) then decide each invoice, and the invoices are grouped into at
most one communication per customer and channel. `recoup.dunning.services` writes the plan.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from django.conf import settings
from django.db import connection
from django.db.models import Max

from recoup.activity.models import Promise, PromiseStatus
from recoup.core.money import quantize
from recoup.disputes.models import Dispute
from recoup.dunning import rules
from recoup.dunning.models import (
    DunningHold,
    DunningPolicy,
    DunningRun,
    InvoiceDunning,
    MessageStatus,
    OutboundMessage,
)
from recoup.dunning.rules import LevelRule, PolicyRule, Skip
from recoup.insights import actions as next_best
from recoup.ledger.aging import kept_amounts_exact, open_items_sql, rates_as_of
from recoup.ledger.models import Contact
from recoup.ledger.selectors import RateUsed

ZERO = Decimal(0)
NO_POLICY = "no_policy"  # a reason of its own: no policy applies and no default policy exists
SUGGESTION_CHUNK = 1_000  # customers whose suggested send hour is read at a time (a fixed number of queries)


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    id: int
    external_id: str
    name: str
    language: str
    timezone: str
    country: str
    collector_id: int | None
    has_email: bool
    policy_id: int | None  # the customer's own policy, if it names one


@dataclass(slots=True)
class Decision:
    """What the plan decided for one open invoice."""

    invoice_id: int
    external_id: str
    currency: str
    due_date: dt.date
    open: Decimal
    disputed: Decimal
    days_past_due: int
    current_level_id: int | None
    target: LevelRule | None = None
    skip: str | None = None

    @property
    def dunnable(self) -> Decimal:
        return rules.dunnable(self.open, self.disputed)

    @property
    def level_id(self) -> int:
        """The level a listed invoice stands at once the run is written: its new one, or the one it keeps."""
        level = self.target.id if self.target is not None else self.current_level_id
        assert level is not None, "only moving or carried invoices are listed"
        return level

    @property
    def carried(self) -> bool:
        """Past due, already at a level and still chased, though not moving now: listed in the customer's
        message beside the invoices that move."""
        return (
            self.target is None
            and self.current_level_id is not None
            and self.days_past_due > 0
            and self.skip in {Skip.NOT_DUE, Skip.LAST_LEVEL, Skip.MIN_GAP, Skip.BELOW_LEVEL_MINIMUM}
        )


@dataclass(frozen=True, slots=True)
class Communication:
    channel: str
    level: LevelRule  # the highest level among the invoices that move on this channel
    send_at: dt.datetime
    fallback_from: str = ""  # "email" when a customer with no email address gets a call task instead


@dataclass
class CustomerPlan:
    customer: CustomerFacts
    decisions: list[Decision]
    communications: list[Communication] = field(default_factory=list)

    @property
    def moves(self) -> list[Decision]:
        return [d for d in self.decisions if d.target is not None]

    def listed(self) -> list[Decision]:
        """The invoices each of the customer's messages lists: those moving, then those carried."""
        return [d for d in self.decisions if d.target is not None or d.carried]

    def action_levels(self) -> list[LevelRule]:
        levels = {d.target.id: d.target for d in self.moves if d.target is not None}
        return sorted(levels.values(), key=lambda level: level.position)


@dataclass
class Plan:
    as_of: dt.date
    customers: list[CustomerPlan]  # only those with something to send or do
    skipped: Counter[str]
    levels: dict[int, tuple[str, str]]  # level id → (policy name, level name)
    level_actions: dict[int, tuple[str, bool]]  # level id → (task role, set credit hold)
    rates: list[RateUsed]
    decisions: dict[int, Decision] = field(default_factory=dict)  # kept only when asked (explanations)

    @property
    def messages(self) -> int:
        return sum(len(c.communications) for c in self.customers)

    def outgoing(self) -> Iterator[tuple[CustomerPlan, Communication]]:
        """Every message the plan writes: customer by customer, channel by channel."""
        for customer_plan in self.customers:
            for communication in customer_plan.communications:
                yield customer_plan, communication

    def level_name(self, level_id: int) -> str:
        return self.levels[level_id][1]


def build_plan(
    *,
    as_of: dt.date,
    customer_ids: Sequence[int] | None = None,
    keep_decisions: bool = False,
) -> Plan:
    """Decide every invoice open on `as_of` (or only those of `customer_ids`)."""
    policies, default_id, level_names, level_actions, timed_levels = _policies()
    rates = rates_as_of(as_of)
    base = settings.BASE_CURRENCY
    disputed = disputed_amounts(as_of, customer_ids)
    held_customers, held_invoices = holds(as_of, customer_ids)
    promised_customers, promised_invoices = promises(as_of, customer_ids)
    last_message = _last_messages(as_of, customer_ids)
    contacts = Contact.objects.filter(is_ap=True).exclude(email="")
    if customer_ids is not None:
        contacts = contacts.filter(customer_id__in=customer_ids)
    with_email = set(contacts.values_list("customer_id", flat=True).distinct())
    scheduler = _Scheduler(as_of)

    skipped: Counter[str] = Counter()
    plans: list[CustomerPlan] = []
    kept: dict[int, Decision] = {}
    for facts, rows in _candidates(as_of, customer_ids, with_email):
        decisions = []
        last = last_message.get(facts.id)
        days_since = (as_of - last).days if last is not None else None
        for row in rows:
            decision = _decide(
                row,
                as_of=as_of,
                policy=policies.get(row[8] or facts.policy_id or default_id or 0),
                disputed=disputed.get(row[0], ZERO),
                held=facts.id in held_customers or row[0] in held_invoices,
                promised=facts.id in promised_customers or row[0] in promised_invoices,
                rate=rates.get(row[3]),
                base=base,
                days_since=days_since,
            )
            decisions.append(decision)
            if decision.skip is not None:
                skipped[decision.skip] += 1
            if keep_decisions:
                kept[decision.invoice_id] = decision
        plan = CustomerPlan(facts, decisions)
        if plan.moves:
            plan.communications = _communications(plan, scheduler)
            plans.append(plan)
    if timed_levels:
        _use_suggested_hours(plans, timed_levels, as_of)
    skipped[Skip.PAID] = _paid_since_last_run(as_of, customer_ids)
    used_rates = sorted({d.currency for p in plans for d in p.decisions} - {base})
    return Plan(
        as_of=as_of,
        customers=plans,
        skipped=+skipped,
        levels=level_names,
        level_actions=level_actions,
        rates=[rates[c] for c in used_rates if c in rates],
        decisions=kept,
    )


def _decide(
    row: tuple[Any, ...],
    *,
    as_of: dt.date,
    policy: PolicyRule | None,
    disputed: Decimal,
    held: bool,
    promised: bool,
    rate: RateUsed | None,
    base: str,
    days_since: int | None,
) -> Decision:
    invoice_id, external_id, _customer, currency, _issue_date, due_date, _amount, open_amount = row[:8]
    current_level_id = row[9]
    decision = Decision(
        invoice_id=invoice_id,
        external_id=external_id,
        currency=currency,
        due_date=due_date,
        open=open_amount,
        disputed=min(disputed, open_amount),
        days_past_due=(as_of - due_date).days,
        current_level_id=current_level_id,
    )
    if row[10]:  # the customer's do_not_dun
        decision.skip = Skip.DO_NOT_DUN
    elif held:
        decision.skip = Skip.ON_HOLD
    elif promised:
        decision.skip = Skip.PROMISED
    elif decision.dunnable <= 0:
        decision.skip = Skip.DISPUTED
    elif policy is None:
        decision.skip = NO_POLICY
    else:
        in_base = quantize(decision.dunnable * rate.rate, base) if rate is not None else None
        outcome = rules.below_tolerance(in_base, policy.tolerance) or rules.next_level(
            policy,
            current_position=policy.position_of(current_level_id) if current_level_id else 0,
            days_past_due=decision.days_past_due,
            amount=in_base,
            days_since_last_message=days_since,
        )
        if isinstance(outcome, LevelRule):
            decision.target = outcome
        else:
            decision.skip = outcome
    return decision


def _communications(plan: CustomerPlan, scheduler: _Scheduler) -> list[Communication]:
    """One per channel: the highest moving level with that channel. No email address: a call instead."""
    by_channel: dict[str, list[LevelRule]] = defaultdict(list)
    fallback = False
    for decision in plan.moves:
        assert decision.target is not None
        for channel in decision.target.channels:
            if channel == "email" and not plan.customer.has_email:
                channel, fallback = "call", True
            by_channel[channel].append(decision.target)
    send_at = scheduler.send_at(plan.customer)
    return [
        Communication(
            channel=channel,
            level=rules.highest(levels),
            send_at=send_at,
            fallback_from="email" if fallback and channel == "call" else "",
        )
        for channel, levels in sorted(by_channel.items(), key=lambda item: rules.CHANNELS.index(item[0]))
    ]


# Reads ------------------------------------------------------------------------------------------------------


def _use_suggested_hours(plans: Sequence[CustomerPlan], timed_levels: set[int], as_of: dt.date) -> None:
    """A policy with `use_suggested_timing` sends at the hour of the customer's suggested next best action
    (recoup.insights.actions), on the same business day and in the same zone as otherwise: only the hour
    moves, never the day, so a reminder is not delayed. A suggestion with no evidence for an hour keeps the
    configured send time."""
    wanted = [p for p in plans if any(c.level.id in timed_levels for c in p.communications)]
    ids = [p.customer.id for p in wanted]
    suggested: dict[int, next_best.NextBestAction] = {}
    for start in range(0, len(ids), SUGGESTION_CHUNK):
        suggested.update(next_best.next_best_actions(ids[start : start + SUGGESTION_CHUNK], today=as_of))
    for plan in wanted:
        suggestion = suggested.get(plan.customer.id)
        if suggestion is None or suggestion.hour_evidence.source == next_best.DEFAULT:
            continue
        plan.communications = [
            replace(c, send_at=c.send_at.replace(hour=suggestion.hour, minute=0))
            if c.level.id in timed_levels
            else c
            for c in plan.communications
        ]


def _policies() -> tuple[
    dict[int, PolicyRule], int | None, dict[int, tuple[str, str]], dict[int, tuple[str, bool]], set[int]
]:
    """The policies as rules; the default policy's id; each level's names and actions; and the levels of the
    policies that send at the customer's suggested hour."""
    policies: dict[int, PolicyRule] = {}
    names: dict[int, tuple[str, str]] = {}
    actions: dict[int, tuple[str, bool]] = {}
    timed: set[int] = set()
    default_id = None
    for policy in DunningPolicy.objects.prefetch_related("levels"):
        levels = tuple(
            LevelRule(
                id=level.pk,
                position=level.position,
                offset_days=level.offset_days,
                channels=tuple(level.channels),
                min_amount=level.min_amount,
                min_gap_days=level.min_gap_days,
            )
            for level in sorted(policy.levels.all(), key=lambda level: level.position)
        )
        for level in policy.levels.all():
            names[level.pk] = (policy.name, level.name)
            actions[level.pk] = (level.task_role, level.set_credit_hold)
            if policy.use_suggested_timing:
                timed.add(level.pk)
        if levels:
            policies[policy.pk] = PolicyRule(
                id=policy.pk, levels=levels, allow_jump=policy.allow_level_jump, tolerance=policy.tolerance
            )
        if policy.is_default:
            default_id = policy.pk
    return policies, default_id, names, actions, timed


_COLUMNS = (
    "i.id",
    "i.external_id",
    "i.customer_id",
    "i.currency",
    "i.issue_date",
    "i.due_date",
    "i.amount",
    "i.dunning_policy_id",
)


def _candidates(
    as_of: dt.date, customer_ids: Sequence[int] | None, with_email: set[int]
) -> Iterable[tuple[CustomerFacts, list[tuple[Any, ...]]]]:
    """Per customer (by id): its facts and its open invoices as of `as_of`, in due-date order.

    A row is (id, external_id, customer_id, currency, issue_date, due_date, amount, open, invoice policy,
    current level, do_not_dun).
    """
    open_items, params = open_items_sql(
        as_of=as_of, columns=_COLUMNS, customer_ids=customer_ids, kept_is_exact=kept_amounts_exact(as_of)
    )
    sql = f"""
        SELECT o.id, o.external_id, o.customer_id, o.currency, o.issue_date, o.due_date, o.amount, o.open,
               o.dunning_policy_id, s.level_id, c.do_not_dun,
               c.external_id, c.name, c.language, c.timezone, c.country, c.collector_id, c.dunning_policy_id
        FROM ({open_items}) o
        JOIN ledger_customer c ON c.id = o.customer_id
        LEFT JOIN dunning_invoicedunning s ON s.invoice_id = o.id
        WHERE o.open > 0
        ORDER BY o.customer_id, o.due_date, o.id"""
    sqlite = connection.vendor == "sqlite"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    facts: CustomerFacts | None = None
    group: list[tuple[Any, ...]] = []
    for raw in rows:
        row = _typed(raw) if sqlite else raw
        if facts is None or row[2] != facts.id:
            if facts is not None:
                yield facts, group
            group = []
            facts = CustomerFacts(
                id=row[2],
                external_id=row[11],
                name=row[12],
                language=row[13],
                timezone=row[14],
                country=row[15],
                collector_id=row[16],
                has_email=row[2] in with_email,
                policy_id=row[17],
            )
        group.append(row)
    if facts is not None:
        yield facts, group


def _typed(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """The types PostgreSQL returns, from SQLite's: a computed column comes back as text or a float."""
    values = list(row)
    for i in (4, 5):
        if isinstance(values[i], str):
            values[i] = dt.date.fromisoformat(values[i])
    currency = values[3]
    for i in (6, 7):
        values[i] = quantize(Decimal(str(values[i])), currency)
    values[10] = bool(values[10])
    return tuple(values)


def disputed_amounts(as_of: dt.date, customer_ids: Sequence[int] | None) -> dict[int, Decimal]:
    """The amount under active dispute on `as_of`, per invoice."""
    disputes = Dispute.objects.filter(opened_on__lte=as_of).exclude(resolved_on__lte=as_of)
    if customer_ids is not None:
        disputes = disputes.filter(invoice__customer_id__in=customer_ids)
    totals: dict[int, Decimal] = defaultdict(Decimal)
    for invoice_id, amount in disputes.values_list("invoice_id", "amount"):
        totals[invoice_id] += amount
    return totals


def holds(as_of: dt.date, customer_ids: Sequence[int] | None = None) -> tuple[set[int], set[int]]:
    """Customers held as a whole, and invoices held one by one, on `as_of`."""
    customers: set[int] = set()
    invoices: set[int] = set()
    active = DunningHold.objects.in_force(as_of)
    if customer_ids is not None:
        active = active.filter(customer_id__in=customer_ids)
    for customer_id, invoice_id in active.values_list("customer_id", "invoice_id"):
        if invoice_id:
            invoices.add(invoice_id)
        else:
            customers.add(customer_id)
    return customers, invoices


def promises(as_of: dt.date, customer_ids: Sequence[int] | None = None) -> tuple[set[int], set[int]]:
    """Customers whose pending promise covers everything, and invoices a pending promise names."""
    promised = Promise.objects.filter(status=PromiseStatus.PENDING)
    if customer_ids is not None:
        promised = promised.filter(customer_id__in=customer_ids)
    pending = [
        p
        for p in promised.prefetch_related("invoices").only(
            "id", "customer_id", "promised_date", "grace_days"
        )
        if rules.promise_pauses(as_of, promised_date=p.promised_date, grace_days=p.grace_days)
    ]
    customers = {p.customer_id for p in pending if not p.invoices.all()}
    invoices = {invoice.pk for p in pending for invoice in p.invoices.all()}
    return customers, invoices


def _last_messages(as_of: dt.date, customer_ids: Sequence[int] | None) -> dict[int, dt.date]:
    """Each customer's last reminder on or before `as_of` (a cancelled one never went out). An email a person
    sent by hand has no level and is no reminder: it neither blocks today's reminder nor counts for a gap."""
    messages = OutboundMessage.objects.filter(as_of__lte=as_of, level__isnull=False)
    if customer_ids is not None:
        messages = messages.filter(customer_id__in=customer_ids)
    rows = (
        messages.exclude(status=MessageStatus.CANCELLED)
        .values("customer_id")
        .annotate(last=Max("as_of"))
        .values_list("customer_id", "last")
    )
    return dict(rows)


def _paid_since_last_run(as_of: dt.date, customer_ids: Sequence[int] | None) -> int:
    """Dunned invoices settled since the previous run (or ever, before the first): no reminder follows."""
    previous = DunningRun.objects.filter(as_of__lt=as_of).aggregate(last=Max("as_of"))["last"]
    states = InvoiceDunning.objects.filter(invoice__open_amount=0, invoice__closed_on__lte=as_of)
    if previous is not None:
        states = states.filter(invoice__closed_on__gt=previous)
    if customer_ids is not None:
        states = states.filter(invoice__customer_id__in=customer_ids)
    return states.count()


# Send times -------------------------------------------------------------------------------------------------


class _Scheduler:
    """Send times per customer: the configured local time in the customer's zone, on a business day of the
    customer's country (weekends and public holidays from `holidays`)."""

    def __init__(self, as_of: dt.date) -> None:
        self.as_of = as_of
        hour, minute = settings.RECOUP_DUNNING_SEND_TIME
        self.local_time = dt.time(hour, minute)
        self._cache: dict[tuple[str, str], dt.datetime] = {}

    def send_at(self, customer: CustomerFacts) -> dt.datetime:
        key = (customer.timezone, customer.country)
        if key not in self._cache:
            self._cache[key] = rules.send_at(
                self.as_of,
                tz=_zone(customer.timezone),
                local_time=self.local_time,
                is_business_day=business_day_test(customer.country, self.as_of.year),
            )
        return self._cache[key]


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@functools.cache
def business_day_test(country: str, year: int) -> Callable[[dt.date], bool]:
    """The weekdays but the country's public holidays (of `year` and the next); no country: weekdays."""
    try:
        calendar = holidays.country_holidays(country, years=(year, year + 1)) if country else None
    except NotImplementedError:
        calendar = None
    weekend = set(getattr(calendar, "weekend", None) or {5, 6})

    def is_business_day(day: dt.date) -> bool:
        return day.weekday() not in weekend and (calendar is None or day not in calendar)

    return is_business_day
