"""The pure dunning rules with plain values: level boundaries, one level per send, jumping, first contacts,
minimums, gaps, tolerance, promises, business days and backoff."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recoup.core.mail import retry_delay
from recoup.dunning import rules
from recoup.dunning.rules import LevelRule, PolicyRule, Skip

D = dt.date


def standard(*, allow_jump: bool = False, tolerance: str = "0") -> PolicyRule:
    """The default policy's shape: -3, 3, 15, 30, 45 (final notice), 60 (escalation, no channel)."""
    offsets = [
        (-3, ("email",)),
        (3, ("email",)),
        (15, ("email",)),
        (30, ("call", "email")),
        (45, ("email",)),
        (60, ()),
    ]
    levels = tuple(
        LevelRule(id=100 + n, position=n, offset_days=offset, channels=channels)
        for n, (offset, channels) in enumerate(offsets, start=1)
    )
    return PolicyRule(id=1, levels=levels, allow_jump=allow_jump, tolerance=Decimal(tolerance))


def move(policy: PolicyRule, current: int, days: int, amount: str = "100", since: int | None = None):
    return rules.next_level(
        policy,
        current_position=current,
        days_past_due=days,
        amount=Decimal(amount),
        days_since_last_message=since,
    )


# Offsets at exact day boundaries --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "days", "expected"),
    [
        (0, -4, Skip.NOT_DUE),  # the day before the friendly notice
        (0, -3, 1),  # on it
        (0, -2, 1),  # after it
        (1, 0, Skip.NOT_DUE),  # the due date itself: no overdue reminder
        (1, 2, Skip.NOT_DUE),  # the day before the reminder
        (1, 3, 2),  # on the reminder's offset
        (1, 4, 2),  # after it
        (2, 14, Skip.NOT_DUE),
        (2, 15, 3),
        (5, 59, Skip.NOT_DUE),
        (5, 60, 6),
        (6, 400, Skip.LAST_LEVEL),
    ],
)
def test_a_level_is_due_from_its_offset_day_on(current, days, expected):
    result = move(standard(), current, days)

    assert (result.position if isinstance(result, LevelRule) else result) == expected


def test_an_invoice_moves_one_level_per_send_even_when_several_are_due():
    assert move(standard(), 2, 50).position == 3


def test_with_jumping_an_invoice_moves_to_the_highest_level_due():
    assert move(standard(allow_jump=True), 2, 50).position == 5
    assert move(standard(allow_jump=True), 2, 16).position == 3


def test_an_invoice_already_past_due_skips_the_courtesy_notice():
    assert move(standard(), 0, 1) == Skip.NOT_DUE  # the reminder is due from day 3, and the notice is skipped
    assert move(standard(), 0, 3).position == 2


def test_a_first_contact_is_never_the_final_notice_even_with_jumping():
    """Final notice = the last level that writes to the customer (45); escalation (60) lies beyond it."""
    jumping = standard(allow_jump=True)

    assert move(jumping, 0, 100).position == 4
    assert move(jumping, 4, 100).position == 5
    assert move(jumping, 5, 100).position == 6


def test_a_two_level_policy_starts_at_its_first_level_whatever_the_delay():
    policy = PolicyRule(
        id=2,
        levels=(LevelRule(id=1, position=1, offset_days=5), LevelRule(id=2, position=2, offset_days=20)),
        allow_jump=True,
    )

    assert move(policy, 0, 90).position == 1
    assert move(policy, 1, 90).position == 2


def test_a_single_level_policy_sends_its_only_level():
    policy = PolicyRule(id=3, levels=(LevelRule(id=9, position=1, offset_days=10),))

    assert move(policy, 0, 9) == Skip.NOT_DUE
    assert move(policy, 0, 10).position == 1
    assert move(policy, 1, 30) == Skip.LAST_LEVEL


# Minimums and gaps ----------------------------------------------------------------------------------------


def test_a_level_below_its_minimum_amount_is_not_sent():
    levels = (
        LevelRule(id=1, position=1, offset_days=5),
        LevelRule(id=2, position=2, offset_days=20, min_amount=Decimal("500")),
        LevelRule(id=3, position=3, offset_days=40),
    )
    policy = PolicyRule(id=4, levels=levels)

    assert move(policy, 1, 25, amount="499.99") == Skip.BELOW_LEVEL_MINIMUM
    assert move(policy, 1, 25, amount="500.00").position == 2


def test_with_jumping_the_highest_level_whose_minimum_is_met_is_chosen():
    levels = (
        LevelRule(id=1, position=1, offset_days=5),
        LevelRule(id=2, position=2, offset_days=20),
        LevelRule(id=3, position=3, offset_days=30, min_amount=Decimal("1000")),
        LevelRule(id=4, position=4, offset_days=40),
    )
    policy = PolicyRule(id=5, levels=levels, allow_jump=True)

    assert move(policy, 1, 35, amount="200").position == 2


def test_no_fx_rate_blocks_only_a_level_with_a_minimum():
    levels = (LevelRule(id=1, position=1, offset_days=5, min_amount=Decimal("10")),)
    with_minimum = PolicyRule(id=6, levels=levels)
    without = PolicyRule(id=7, levels=(LevelRule(id=1, position=1, offset_days=5),))

    no_rate = {"current_position": 0, "days_past_due": 9, "amount": None, "days_since_last_message": None}
    assert rules.next_level(with_minimum, **no_rate) == Skip.NO_FX_RATE
    assert rules.next_level(without, **no_rate).position == 1


@pytest.mark.parametrize(
    ("since", "expected"), [(0, Skip.CONTACTED_TODAY), (4, Skip.MIN_GAP), (5, 3), (None, 3)]
)
def test_the_gap_since_the_customers_last_reminder_must_reach_the_levels_minimum(since, expected):
    levels = tuple(
        LevelRule(id=n, position=n, offset_days=offset, min_gap_days=5)
        for n, offset in enumerate((5, 10, 20), start=1)
    )
    result = move(PolicyRule(id=8, levels=levels), 2, 25, since=since)

    assert (result.position if isinstance(result, LevelRule) else result) == expected


def test_tolerance_compares_the_base_currency_amount():
    assert rules.below_tolerance(Decimal("0.99"), Decimal("1.00")) == Skip.BELOW_TOLERANCE
    assert rules.below_tolerance(Decimal("1.00"), Decimal("1.00")) is None
    assert rules.below_tolerance(None, Decimal("1.00")) == Skip.NO_FX_RATE
    assert rules.below_tolerance(None, Decimal("0")) is None


def test_the_dunnable_amount_leaves_out_the_disputed_part():
    assert rules.dunnable(Decimal("100.00"), Decimal("30.00")) == Decimal("70.00")
    assert rules.dunnable(Decimal("100.00"), Decimal("100.00")) == Decimal("0")
    assert rules.dunnable(Decimal("40.00"), Decimal("100.00")) == Decimal("0")


@pytest.mark.parametrize(
    ("as_of", "pauses"), [(D(2026, 3, 10), True), (D(2026, 3, 13), True), (D(2026, 3, 14), False)]
)
def test_a_pending_promise_pauses_dunning_until_its_date_plus_grace(as_of, pauses):
    assert rules.promise_pauses(as_of, promised_date=D(2026, 3, 10), grace_days=3) is pauses


# Properties -----------------------------------------------------------------------------------------------


@given(
    current=st.integers(min_value=0, max_value=6),
    days=st.integers(min_value=-30, max_value=400),
    jump=st.booleans(),
)
def test_a_move_is_always_forward_due_and_never_a_first_final_notice(current, days, jump):
    policy = standard(allow_jump=jump)
    result = move(policy, current, days)

    if isinstance(result, LevelRule):
        assert result.position > current
        assert days >= result.offset_days
        if not jump:
            assert result.position == current + 1 or (current == 0 and result.position == 2 and days > 0)
        if current == 0:
            assert result.position < policy.final_position
    else:
        assert result in {Skip.NOT_DUE, Skip.LAST_LEVEL}


@given(days=st.integers(min_value=-30, max_value=400))
def test_running_every_day_visits_the_levels_in_order_one_at_a_time(days):
    """Day after day from 30 days before due, an invoice reaches each level on its offset day (the courtesy
    notice included, as it is met before the due date) and never skips one."""
    policy = standard()
    position, reached = 0, []
    for day in range(-30, days + 1):
        result = move(policy, position, day)
        if isinstance(result, LevelRule):
            position = result.position
            reached.append((result.position, day))
    expected = [(level.position, level.offset_days) for level in policy.levels if level.offset_days <= days]
    assert reached == expected


# Send times and backoff -----------------------------------------------------------------------------------


def weekdays(day: dt.date) -> bool:
    return day.weekday() < 5


def test_a_send_falls_at_the_local_time_in_the_customers_zone():
    tokyo = rules.send_at(
        D(2026, 12, 1), tz=ZoneInfo("Asia/Tokyo"), local_time=dt.time(9), is_business_day=weekdays
    )
    la = rules.send_at(
        D(2026, 12, 1), tz=ZoneInfo("America/Los_Angeles"), local_time=dt.time(9), is_business_day=weekdays
    )

    assert tokyo.astimezone(dt.UTC) == dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC)
    assert la.astimezone(dt.UTC) == dt.datetime(2026, 12, 1, 17, 0, tzinfo=dt.UTC)
    assert tokyo.date() == la.date() == D(2026, 12, 1)  # the as-of date is the local date: never a day off


def test_a_send_on_a_weekend_moves_to_monday():
    saturday = D(2026, 12, 5)
    at = rules.send_at(
        saturday, tz=ZoneInfo("Europe/Paris"), local_time=dt.time(9, 30), is_business_day=weekdays
    )

    assert at == dt.datetime(2026, 12, 7, 9, 30, tzinfo=ZoneInfo("Europe/Paris"))


def test_next_business_day_gives_up_on_a_calendar_without_one():
    with pytest.raises(ValueError, match="no business day"):
        rules.next_business_day(D(2026, 1, 1), lambda day: False)


def test_retry_delays_double_up_to_the_cap():
    delays = [retry_delay(n, base_seconds=60, cap_seconds=600) for n in range(1, 7)]

    assert delays == [60, 120, 240, 480, 600, 600]
