"""Pure dunning arithmetic: no ORM and no clock. Every date, amount and calendar comes in as an argument.

An invoice's next level (DESIGN.md, "Dunning"):
- a level is due once the days past the due date reach its `offset_days` (offset 3: on the third day after
  the due date, never on the due date itself);
- an invoice moves one level per send; with `allow_jump` it moves to the highest level that is due;
- levels before the due date (negative offsets) are courtesy notices: an invoice already past due skips the
  ones it has not had;
- a first contact is never the final notice (the last level that writes to the customer) or anything after it,
  and no jump passes the final notice: an invoice always gets it before any escalation beyond it;
- the level's `min_amount` and `min_gap_days` (since the customer's last reminder) must both be met.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

MESSAGE_CHANNELS = frozenset({"email", "letter"})  # the channels that write to the customer
CHANNELS = ("email", "letter", "call")


class Skip(StrEnum):
    """Why an open invoice was not dunned in a run. The order is the order of the checks."""

    DO_NOT_DUN = "do_not_dun"
    ON_HOLD = "on_hold"
    PROMISED = "promised"
    DISPUTED = "disputed"
    BELOW_TOLERANCE = "below_tolerance"
    NO_FX_RATE = "no_fx_rate"
    LAST_LEVEL = "last_level"
    NOT_DUE = "not_due"
    BELOW_LEVEL_MINIMUM = "below_level_minimum"
    CONTACTED_TODAY = "contacted_today"
    MIN_GAP = "min_gap"
    PAID = "paid"


SKIP_TEXT = {
    Skip.DO_NOT_DUN: "the customer is on the do-not-dun list",
    Skip.ON_HOLD: "dunning is on hold",
    Skip.PROMISED: "a pending promise to pay covers it",
    Skip.DISPUTED: "all of its open amount is disputed",
    Skip.BELOW_TOLERANCE: "its dunnable amount is below the policy's tolerance",
    Skip.NO_FX_RATE: "no FX rate to the base currency, so the minimum amounts cannot be checked",
    Skip.LAST_LEVEL: "it has reached the policy's last level",
    Skip.NOT_DUE: "its next level is not due yet",
    Skip.BELOW_LEVEL_MINIMUM: "its dunnable amount is below the next level's minimum",
    Skip.CONTACTED_TODAY: "the customer was already sent a reminder as of this date",
    Skip.MIN_GAP: "the customer's last reminder is too recent for the next level",
    Skip.PAID: "it is paid",
}


@dataclass(frozen=True, slots=True)
class LevelRule:
    id: int
    position: int
    offset_days: int
    channels: tuple[str, ...] = ("email",)
    min_amount: Decimal = Decimal(0)
    min_gap_days: int = 0

    @property
    def writes(self) -> bool:
        return bool(MESSAGE_CHANNELS.intersection(self.channels))


@dataclass(frozen=True, slots=True)
class PolicyRule:
    id: int
    levels: tuple[LevelRule, ...]  # in position order
    allow_jump: bool = False
    tolerance: Decimal = Decimal(0)

    def position_of(self, level_id: int | None) -> int:
        for level in self.levels:
            if level.id == level_id:
                return level.position
        return 0

    @property
    def final_position(self) -> int:
        return final_position((level.position, level.channels) for level in self.levels)


def final_position(levels: Iterable[tuple[int, Iterable[str]]]) -> int:
    """The final notice among levels given as (position, channels) in position order: the last level that
    writes to the customer, else the last level."""
    ordered = list(levels)
    writing = [position for position, channels in ordered if MESSAGE_CHANNELS.intersection(channels)]
    return writing[-1] if writing else ordered[-1][0]


def next_level(
    policy: PolicyRule,
    *,
    current_position: int,
    days_past_due: int,
    amount: Decimal | None,
    days_since_last_message: int | None,
) -> LevelRule | Skip:
    """The level an invoice moves to as of a date, or why it does not move.

    `current_position` is 0 for an invoice never dunned. `amount` is its dunnable amount in the base currency
    (None when no FX rate converts it). `days_since_last_message` counts from the customer's last reminder on
    any channel (None: never).
    """
    ahead = [level for level in policy.levels if level.position > current_position]
    if not ahead:
        return Skip.LAST_LEVEL
    final = policy.final_position
    if current_position == 0 and len(policy.levels) > 1:
        ahead = [level for level in ahead if level.position < final] or ahead[:1]
    elif current_position < final:
        ahead = [level for level in ahead if level.position <= final]
    if days_past_due > 0:
        ahead = [level for level in ahead if level.offset_days >= 0] or ahead[:1]
    due = [level for level in ahead if days_past_due >= level.offset_days]
    if not due or (not policy.allow_jump and due[0] is not ahead[0]):
        return Skip.NOT_DUE
    candidates = due if policy.allow_jump else due[:1]
    if any(level.min_amount > 0 for level in candidates) and amount is None:
        return Skip.NO_FX_RATE
    affordable = [level for level in candidates if amount is None or amount >= level.min_amount]
    if not affordable:
        return Skip.BELOW_LEVEL_MINIMUM
    target = affordable[-1]
    if days_since_last_message is not None:
        if days_since_last_message <= 0:
            return Skip.CONTACTED_TODAY
        if days_since_last_message < target.min_gap_days:
            return Skip.MIN_GAP
    return target


def below_tolerance(amount: Decimal | None, tolerance: Decimal) -> Skip | None:
    """Whether a dunnable amount (base currency; None without an FX rate) is too small to chase."""
    if tolerance <= 0:
        return None
    if amount is None:
        return Skip.NO_FX_RATE
    return Skip.BELOW_TOLERANCE if amount < tolerance else None


def promise_pauses(as_of: dt.date, *, promised_date: dt.date, grace_days: int) -> bool:
    """A pending promise pauses dunning until its date plus the grace period, inclusive."""
    return as_of <= promised_date + dt.timedelta(days=grace_days)


def dunnable(open_amount: Decimal, disputed: Decimal) -> Decimal:
    """The part of an open amount dunning may chase: what no active dispute covers."""
    return max(open_amount - min(disputed, open_amount), Decimal(0))


# Sending ----------------------------------------------------------------------------------------------------

IsBusinessDay = Callable[[dt.date], bool]


def next_business_day(day: dt.date, is_business_day: IsBusinessDay, *, limit: int = 31) -> dt.date:
    """`day` itself if it is a business day, else the first business day after it."""
    for _ in range(limit):
        if is_business_day(day):
            return day
        day += dt.timedelta(days=1)
    raise ValueError(f"no business day within {limit} days of {day}")


def send_at(
    as_of: dt.date, *, tz: ZoneInfo, local_time: dt.time, is_business_day: IsBusinessDay
) -> dt.datetime:
    """When a message for `as_of` goes out: `local_time` in the customer's zone, on `as_of` or, if that is
    a weekend or holiday of the customer's calendar, on the next business day."""
    day = next_business_day(as_of, is_business_day)
    return dt.datetime.combine(day, local_time, tzinfo=tz)


def highest(levels: Sequence[LevelRule]) -> LevelRule:
    return max(levels, key=lambda level: level.position)
