"""Pure arithmetic of the collector workspace: promise deadlines and outcomes, the promise kept rate, the
worklist score, round robin, assignment bands, who may act on a task, and the next action to suggest.

No ORM and no clock: every date and amount comes in as an argument (DESIGN.md, "Architecture").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

ZERO = Decimal(0)
HUNDRED = Decimal(100)


# Promises ---------------------------------------------------------------------------------------------------


class Outcome(StrEnum):
    """What evaluation makes of a promise (the PromiseStatus values it can set)."""

    PENDING = "pending"
    KEPT = "kept"
    PARTIALLY_KEPT = "partially_kept"
    BROKEN = "broken"


DECIDED = (Outcome.KEPT, Outcome.PARTIALLY_KEPT, Outcome.BROKEN)


def promise_deadline(promised_date: dt.date, grace_days: int) -> dt.date:
    """The last day a payment counts for the promise: its date plus the grace period (inclusive)."""
    return promised_date + dt.timedelta(days=grace_days)


def promise_window_end(*, deadline: dt.date, as_of: dt.date) -> dt.date:
    """Payments count up to the deadline, and never beyond the evaluation date."""
    return min(deadline, as_of)


def promise_outcome(
    *,
    amount: Decimal,
    paid_amount: Decimal,
    tolerance_percent: Decimal,
    deadline: dt.date,
    as_of: dt.date,
) -> Outcome:
    """Kept once `paid_amount` (paid from the day it was made to the deadline) reaches `amount`, which can be
    known before the deadline. Otherwise pending up to and including the deadline; after it, partially kept
    when something was paid and the shortfall is at most `tolerance_percent` of the amount, else broken."""
    if paid_amount >= amount:
        return Outcome.KEPT
    if as_of <= deadline:
        return Outcome.PENDING
    shortfall = amount - paid_amount
    if paid_amount > 0 and shortfall * HUNDRED <= amount * tolerance_percent:
        return Outcome.PARTIALLY_KEPT
    return Outcome.BROKEN


@dataclass(frozen=True)
class PromiseFacts:
    """A promise as evaluation sees it. `invoice_ids` empty: it covers all of the customer's invoices.
    `decided`: kept, partially kept or broken already; it keeps what it took and is not decided again."""

    id: int
    customer_id: int
    amount: Decimal
    currency: str
    made_on: dt.date
    window_end: dt.date
    invoice_ids: frozenset[int]
    decided: bool = False


@dataclass(frozen=True)
class PaymentFacts:
    """One original payment allocation, with the date of its reversal if it has one."""

    id: int
    customer_id: int
    invoice_id: int
    date: dt.date
    amount: Decimal
    currency: str
    reversed_on: dt.date | None = None


def convert(amount: Decimal, source: str, target: str, rates: Mapping[str, Decimal]) -> Decimal | None:
    """`amount` of `source` in `target`, through `rates` (what one unit of each is worth in the base
    currency); None when either rate is missing. The same currency is never converted."""
    if source == target:
        return amount
    if source not in rates or target not in rates:
        return None
    return amount * rates[source] / rates[target]


def attribute_payments(
    promises: Sequence[PromiseFacts], payments: Sequence[PaymentFacts], rates: Mapping[str, Decimal]
) -> dict[int, Decimal]:
    """What each promise was paid, in its own currency (unrounded, at most its amount).

    A payment allocation counts for a promise when it applies to an invoice the promise covers, is dated
    from the day the promise was made to the end of its window, and was not reversed on or before that end
    (a reversal is a full negation, so an allocation either stands on a date or does not). An allocation in
    another currency counts at `rates`; with no rate it cannot count. One payment never counts twice: the
    promises already decided take first, then the others in the order of their window's end (then id), each
    from the allocations in date order.
    """
    left = {p.id: p.amount for p in payments}
    paid: dict[int, Decimal] = {}
    ordered = sorted(payments, key=lambda p: (p.date, p.id))
    for promise in sorted(promises, key=lambda p: (not p.decided, p.window_end, p.id)):
        total = ZERO
        for payment in ordered:
            if total >= promise.amount:
                break
            if left[payment.id] <= 0 or not _counts(payment, promise):
                continue
            value = convert(left[payment.id], payment.currency, promise.currency, rates)
            if value is None:
                continue
            need = promise.amount - total
            if value <= need:
                total += value
                left[payment.id] = ZERO
            else:
                total = promise.amount
                back = convert(need, promise.currency, payment.currency, rates)
                left[payment.id] -= back if back is not None else left[payment.id]
        paid[promise.id] = min(total, promise.amount)
    return paid


def _counts(payment: PaymentFacts, promise: PromiseFacts) -> bool:
    if payment.customer_id != promise.customer_id:
        return False
    if promise.invoice_ids and payment.invoice_id not in promise.invoice_ids:
        return False
    if not promise.made_on <= payment.date <= promise.window_end:
        return False
    return payment.reversed_on is None or payment.reversed_on > promise.window_end


@dataclass(frozen=True)
class KeptRate:
    """Promise kept rate = kept ÷ promises that have come due (DESIGN.md, "Promises to pay").

    A promise has come due once evaluation decided it: kept, partially kept or broken. Partially kept
    promises count as come due but not as kept, so the rate says how often a promise was kept in full.
    Pending and cancelled promises are not counted. `rate` is None when none has come due.
    """

    kept: int
    partially_kept: int
    broken: int

    @property
    def due(self) -> int:
        return self.kept + self.partially_kept + self.broken

    @property
    def rate(self) -> Decimal | None:
        if not self.due:
            return None
        return (Decimal(self.kept) / Decimal(self.due)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


# The worklist score -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreTerms:
    """The worklist score until the insights issue lands: the overdue amount weighted by days past due.

    score = Σ open_i × days_past_due_i over the customer's open overdue invoices (open amount in the base
    currency, days past due > 0), rounded to the base currency's minor unit. A row shows three terms:
    `overdue` = Σ open_i, `weighted_days` = score ÷ overdue (the amount-weighted average days past due, to
    one decimal) and `score` itself, so overdue × weighted_days ≈ score.
    """

    overdue: Decimal
    weighted_days: Decimal
    score: Decimal


def score_terms(items: Iterable[tuple[Decimal, int]], *, places: int = 2) -> ScoreTerms:
    """The terms from (open amount in the base currency, days past due) of each open invoice."""
    overdue = ZERO
    weighted = ZERO
    for open_amount, days in items:
        if days > 0 and open_amount > 0:
            overdue += open_amount
            weighted += open_amount * days
    return finish_terms(overdue, weighted, places=places)


def finish_terms(overdue: Decimal, weighted: Decimal, *, places: int = 2) -> ScoreTerms:
    """Round sums the database made into the terms a row shows (the same rounding as score_terms)."""
    unit = Decimal(1).scaleb(-places)
    overdue = overdue.quantize(unit, rounding=ROUND_HALF_UP)
    score = weighted.quantize(unit, rounding=ROUND_HALF_UP)
    days = (score / overdue).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP) if overdue > 0 else ZERO
    return ScoreTerms(overdue=overdue, weighted_days=days, score=score)


# Assignment -------------------------------------------------------------------------------------------------


def next_member(member_ids: Sequence[int], last: int | None) -> int | None:
    """Round robin: the member after `last` in `member_ids` order (by id), wrapping round; the first one
    when `last` is None or has left the team. None for a team with no member."""
    if not member_ids:
        return None
    ordered = sorted(member_ids)
    if last is None:
        return ordered[0]
    for member in ordered:
        if member > last:
            return member
    return ordered[0]


def band_matches(
    *,
    rule_segment: str,
    min_balance: Decimal | None,
    max_balance: Decimal | None,
    segment: str,
    balance: Decimal | None,
) -> bool:
    """Whether an assignment rule takes a customer: its segment (empty: any) and its open-balance band in
    the base currency, from `min_balance` inclusive to `max_balance` exclusive (None: open-ended). A
    customer whose balance cannot be converted (None) matches only a rule with no band."""
    if rule_segment and rule_segment != segment:
        return False
    if min_balance is None and max_balance is None:
        return True
    if balance is None:
        return False
    if min_balance is not None and balance < min_balance:
        return False
    return not (max_balance is not None and balance >= max_balance)


# Who may act on a task --------------------------------------------------------------------------------------

MANAGING_ROLES = frozenset({"admin", "manager"})
WORKING_ROLES = frozenset({"admin", "manager", "collector", "resolver"})


def may_act_on_task(*, role: str, user_id: int, owner_id: int | None, task_role: str) -> bool:
    """Managers and admins act on every task; collectors and resolvers on their own, and on unowned tasks
    left for their role or for anyone (no role). Viewers act on none."""
    if role in MANAGING_ROLES:
        return True
    if role not in WORKING_ROLES:
        return False
    if owner_id is not None:
        return owner_id == user_id
    return task_role in ("", role)


def may_give_task_to(*, role: str, user_id: int, new_owner_id: int | None) -> bool:
    """Managers and admins give tasks to anyone (or to nobody); a collector or resolver gives a task they
    may act on to a colleague or takes it themselves, but cannot leave it unowned."""
    if role in MANAGING_ROLES:
        return True
    return role in WORKING_ROLES and new_owner_id is not None


# The next action --------------------------------------------------------------------------------------------


class NextAction(StrEnum):
    TASK = "task"  # do the task that is due
    PROMISE = "promise"  # check the promised payment that falls due
    CALL = "call"  # overdue and nobody on it: call
    EMAIL = "email"  # overdue, no phone number: email
    NONE = "none"


@dataclass(frozen=True)
class Suggestion:
    code: NextAction
    label: str
    reason: str
    task_id: int | None = None
    promise_id: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code.value,
            "label": self.label,
            "reason": self.reason,
            "task_id": self.task_id,
            "promise_id": self.promise_id,
        }


@dataclass(frozen=True)
class CustomerFacts:
    """What the suggestion looks at: the first open task (by due date), the first pending promise (by date),
    the overdue amount (with its currency text) and the oldest days past due, and whether a phone is known."""

    today: dt.date
    task: tuple[int, str, str, dt.date] | None  # (id, kind, title, due date)
    promise: tuple[int, str, dt.date, dt.date] | None  # (id, "100.00 USD", promised date, deadline)
    overdue_text: str
    oldest_days: int
    has_phone: bool


def suggest(facts: CustomerFacts) -> Suggestion:
    """In order: a task due today or earlier; a pending promise due within a day, or in its grace period; an
    overdue balance nobody works (call if there is a phone number, else email); otherwise a task due later;
    else nothing."""
    task = facts.task
    if task is not None and task[3] <= facts.today:
        late = (facts.today - task[3]).days
        when = "due today" if late == 0 else f"{late} day{'s' if late != 1 else ''} overdue"
        return Suggestion(NextAction.TASK, task[2], f"Your {task[1]} task is {when}.", task_id=task[0])
    promise = facts.promise
    if promise is not None and promise[2] <= facts.today + dt.timedelta(days=1):
        pid, money, date, deadline = promise
        if date < facts.today:
            reason = f"{money} was promised by {date.isoformat()}; its grace ends {deadline.isoformat()}."
        else:
            reason = f"{money} is promised by {date.isoformat()}."
        return Suggestion(NextAction.PROMISE, "Check the promised payment", reason, promise_id=pid)
    if facts.overdue_text and task is None and promise is None:
        days = facts.oldest_days
        plural = "s" if days != 1 else ""
        reason = f"{facts.overdue_text} overdue, the oldest {days} day{plural}; nobody is on it."
        if facts.has_phone:
            return Suggestion(NextAction.CALL, "Call about the overdue invoices", reason)
        return Suggestion(NextAction.EMAIL, "Email about the overdue invoices", reason)
    if task is not None:
        return Suggestion(
            NextAction.TASK, task[2], f"Your {task[1]} task is due {task[3].isoformat()}.", task_id=task[0]
        )
    if promise is not None:
        return Suggestion(
            NextAction.PROMISE,
            "Wait for the promised payment",
            f"{promise[1]} is promised by {promise[2].isoformat()}.",
            promise_id=promise[0],
        )
    return Suggestion(NextAction.NONE, "Nothing to do", "Nothing is overdue and no task is open.")
