"""The suggested next best action of a customer: the channel (call, email or wait), the timing (a weekday and
an hour in the customer's time zone) and the tone (friendly or firm), each with the evidence it rests on.

What "worked" means. A *touch* is a call (`activity.Call`, at `called_at`) or a sent email (`OutboundMessage`
with status sent and channel email, at `sent_at`: dunning reminders and emails sent by hand alike). It is
*followed by a payment* when a payment allocation to the customer (kind payment, a positive amount, not
reversed) is dated in [touch day, touch day + 7], both days included, the touch day being its date in the
customer's time zone: paid on the day of the touch counts, on day 7 counts, on day 8 does not (the reminder
effectiveness report's window). Only touches whose window has closed by `today` (touch day + 7 ≤ today) and
no older than `LOOKBACK_DAYS` are judged: a touch of yesterday is not yet a failure.

Tone. An email sent by hand has its template's tone. A dunning reminder has the tone of its level's built-in
text: firm from the policy's final notice on (the last level that writes, `dunning.rules.final_position`),
friendly before it (the courtesy notice and the reminders).

Smoothing. Every rate is a Beta-smoothed mean, (k + m × prior) ÷ (n + m) with m = `PRIOR_STRENGTH`
pseudo-touches: the similar customers' overall rate is smoothed towards 0.5, each of their options (a
channel, a tone, a weekday, an hour) towards that overall rate, and the customer's own towards the similar
customers' figure for the same option. One touch answered gives (1 + 4 × 0.3) ÷ 5 = 44 %, not 100 %.

Similar customers: the same `Customer.segment` and risk band (`CustomerPriority.risk` in bands of 20 points:
0–19, …, 80–100; customers not scored are a band of their own). A group of fewer than
`MIN_GROUP_CUSTOMERS` customers is too small: all customers stand in for it.

The rules (`suggest`, pure: no ORM, no clock) and the reads (`next_best_actions`, a fixed number of queries
whatever the number of customers) are both here; the module is small enough to keep them together.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef

from recoup.activity.models import Promise, PromiseStatus
from recoup.dunning import rules as dunning_rules
from recoup.dunning.models import DunningLevel
from recoup.ledger.models import Contact, Customer, Invoice

CALL, EMAIL, WAIT = "call", "email", "wait"
FRIENDLY, FIRM = "friendly", "firm"
CHANNELS = (CALL, EMAIL)
TONES = (FRIENDLY, FIRM)

RESPONSE_DAYS = 7  # a payment dated on the touch day up to this many days after it answers the touch
LOOKBACK_DAYS = 365  # touches dated within this many days before today are judged
PRIOR_STRENGTH = 4.0  # pseudo-touches of the Beta prior
FLAT_PRIOR = 0.5  # the similar customers' overall rate is smoothed towards this
MIN_SLOT_TOUCHES = 3  # a weekday or an hour needs this many judged touches to be suggested from
MIN_GROUP_CUSTOMERS = 5  # a smaller group of similar customers falls back to all customers
ABOUT_TO_PAY_WAIT = 0.6  # P(paid within 7 days) from which a touch waits
RISK_BAND_POINTS = 20
UNSCORED_BAND = -1

# Where a figure comes from.
OWN, SIMILAR, ALL, DEFAULT = "customer", "similar", "all", "default"

WAIT_PROMISE, WAIT_NOTHING_OVERDUE, WAIT_ABOUT_TO_PAY = "promise_pending", "nothing_overdue", "about_to_pay"

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

Key = tuple[str, str, int, int]  # (kind, tone or "", weekday 0 = Monday, hour), in the customer's zone


# The pure part ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """What one option (a channel, a tone, a weekday, an hour) did: n judged touches, k of them followed by a
    payment within 7 days. `rate` is k ÷ n (None without touches), `smoothed` the Beta-smoothed rate used to
    choose, and `source` whose touches n and k count: the customer's own, the similar customers', all
    customers', or none (`default`)."""

    option: str
    n: int
    k: int
    rate: float | None
    smoothed: float
    source: str


@dataclass(frozen=True)
class NextBestAction:
    customer_id: int
    channel: str  # call, email or wait
    contact_channel: str  # call or email: the channel to use (after waiting, if channel is wait)
    wait_reason: str  # promise_pending, nothing_overdue, about_to_pay; "" unless channel is wait
    reason: str  # one sentence for the page
    weekday: int  # 0 = Monday … 6 = Sunday, in the customer's time zone
    hour: int  # 0–23, in the customer's time zone
    timezone: str
    tone: str  # friendly or firm
    channel_evidence: tuple[Evidence, ...]  # call, then email
    weekday_evidence: Evidence  # the chosen weekday's (source default: no evidence)
    hour_evidence: Evidence
    tone_evidence: tuple[Evidence, ...]  # friendly, then firm
    p_paid_7_days: float | None
    similar_group: str  # "segment · risk 40–59", or "all customers"


class Tally:
    """Judged touches counted by (kind, tone, weekday, hour): n and k (followed by a payment)."""

    def __init__(self, counts: Mapping[Key, tuple[int, int]] | None = None) -> None:
        self.counts: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
        for key, (n, k) in (counts or {}).items():
            self.add(key, n, k)

    def add(self, key: Key, n: int, k: int) -> None:
        cell = self.counts[key]
        cell[0] += n
        cell[1] += k

    def merge(self, other: Tally) -> None:
        for key, (n, k) in other.counts.items():
            self.add(key, n, k)

    def total(self) -> tuple[int, int]:
        return self._sum(lambda key: True)

    def of(self, dimension: str, value: Any) -> tuple[int, int]:
        """n and k of one option: kind (call, email), tone (of emails), weekday or hour."""
        index = {"kind": 0, "tone": 1, "weekday": 2, "hour": 3}[dimension]
        if dimension == "tone":
            return self._sum(lambda key: key[0] == EMAIL and key[1] == value)
        return self._sum(lambda key: key[index] == value)

    def _sum(self, test: Any) -> tuple[int, int]:
        n = k = 0
        for key, (kn, kk) in self.counts.items():
            if test(key):
                n, k = n + kn, k + kk
        return n, k


def responded(touch_day: dt.date, payment_days: Iterable[dt.date]) -> bool:
    """Whether a payment is dated on the touch day or up to RESPONSE_DAYS after it (both included)."""
    last = touch_day + dt.timedelta(days=RESPONSE_DAYS)
    return any(touch_day <= day <= last for day in payment_days)


def judged(touch_day: dt.date, today: dt.date) -> bool:
    """A touch counts once its window has closed by today, and while it is within the look-back."""
    return today - dt.timedelta(days=LOOKBACK_DAYS) <= touch_day <= today - dt.timedelta(days=RESPONSE_DAYS)


def tally(
    touches: Iterable[tuple[str, dt.datetime, str | None]], payment_days: Sequence[dt.date], *, today: dt.date
) -> Tally:
    """Touches given as (kind, local time, tone) with the customer's payment dates, counted."""
    out = Tally()
    for kind, when, tone in touches:
        day = when.date()
        if judged(day, today):
            out.add((kind, tone or "", when.weekday(), when.hour), 1, int(responded(day, payment_days)))
    return out


def smoothed(k: int, n: int, prior: float, strength: float = PRIOR_STRENGTH) -> float:
    """The mean of Beta(k + strength × prior, n − k + strength × (1 − prior))."""
    return (k + strength * prior) / (n + strength)


def risk_band(risk: int | None) -> int:
    """0 for risk 0–19, … 4 for 80–100; UNSCORED_BAND without a score."""
    if risk is None:
        return UNSCORED_BAND
    return min(int(risk) // RISK_BAND_POINTS, 100 // RISK_BAND_POINTS - 1)


def band_label(band: int) -> str:
    if band == UNSCORED_BAND:
        return "not scored"
    low = band * RISK_BAND_POINTS
    high = 100 if band == 100 // RISK_BAND_POINTS - 1 else low + RISK_BAND_POINTS - 1
    return f"risk {low}–{high}"


def _option(
    dimension: str, value: Any, label: str, own: Tally, similar: Tally, similar_source: str, base: float
) -> Evidence:
    sn, sk = similar.of(dimension, value)
    s_rate = smoothed(sk, sn, base)
    n, k = own.of(dimension, value)
    if n:
        return Evidence(label, n, k, k / n, smoothed(k, n, s_rate), OWN)
    return Evidence(label, sn, sk, sk / sn if sn else None, s_rate, similar_source)


def _best_slot(
    dimension: str,
    values: Sequence[int],
    labels: Sequence[str],
    own: Tally,
    similar: Tally,
    similar_source: str,
    base: float,
) -> Evidence | None:
    """The value whose touches did best (smoothed), among those with MIN_SLOT_TOUCHES: the customer's own
    first, else the similar customers'. Ties: more touches, then the earlier value."""
    for source in (OWN, similar_source):
        candidates = []
        for value, label in zip(values, labels, strict=True):
            evidence = _option(
                dimension, value, label, own if source == OWN else Tally(), similar, similar_source, base
            )
            if evidence.source == source and evidence.n >= MIN_SLOT_TOUCHES:
                candidates.append((-evidence.smoothed, -evidence.n, value, evidence))
        if candidates:
            return min(candidates, key=lambda c: c[:3])[3]
    return None


def suggest(
    *,
    customer_id: int,
    own: Tally,
    similar: Tally,
    similar_source: str,
    today: dt.date,
    default_hour: int,
    overdue: bool,
    promise_pending: bool,
    p_paid_7_days: float | None,
    can_call: bool = True,
    can_email: bool = True,
    timezone: str = "UTC",
    similar_group: str = "",
) -> NextBestAction:
    """The next best action from the customer's own judged touches and its similar customers' (`similar`,
    which `similar_source` names: SIMILAR, or ALL when the group was too small)."""
    sn, sk = similar.total()
    base = smoothed(sk, sn, FLAT_PRIOR)

    channel_evidence = tuple(_option("kind", c, c, own, similar, similar_source, base) for c in CHANNELS)
    reachable = [e for e in channel_evidence if (can_call if e.option == CALL else can_email)]
    # Best smoothed rate; a tie goes to email, the cheaper touch (CHANNELS order reversed).
    best = max(reversed(reachable or list(channel_evidence)), key=lambda e: e.smoothed)
    contact_channel = best.option

    tone_evidence = tuple(_option("tone", t, t, own, similar, similar_source, base) for t in TONES)
    tone = max(tone_evidence, key=lambda e: e.smoothed).option  # a tie: friendly, the first

    weekday = _best_slot("weekday", range(7), WEEKDAYS, own, similar, similar_source, base)
    if weekday is None:
        day = today.weekday() if today.weekday() < 5 else 0
        weekday = Evidence(WEEKDAYS[day], 0, 0, None, base, DEFAULT)
    hour = _best_slot(
        "hour", range(24), [f"{h:02d}:00" for h in range(24)], own, similar, similar_source, base
    )
    if hour is None:
        hour = Evidence(f"{default_hour:02d}:00", 0, 0, None, base, DEFAULT)

    wait_reason = ""
    if promise_pending:
        wait_reason = WAIT_PROMISE
    elif not overdue:
        wait_reason = WAIT_NOTHING_OVERDUE
    elif p_paid_7_days is not None and p_paid_7_days >= ABOUT_TO_PAY_WAIT:
        wait_reason = WAIT_ABOUT_TO_PAY
    channel = WAIT if wait_reason else contact_channel

    return NextBestAction(
        customer_id=customer_id,
        channel=channel,
        contact_channel=contact_channel,
        wait_reason=wait_reason,
        reason=_reason(wait_reason, p_paid_7_days, best, channel_evidence, (can_call, can_email)),
        weekday=WEEKDAYS.index(weekday.option),
        hour=int(hour.option[:2]),
        timezone=timezone,
        tone=tone,
        channel_evidence=channel_evidence,
        weekday_evidence=weekday,
        hour_evidence=hour,
        tone_evidence=tone_evidence,
        p_paid_7_days=p_paid_7_days,
        similar_group=similar_group,
    )


def _percent(value: float) -> str:
    return f"{round(value * 100)} %"


def _reason(
    wait_reason: str,
    p_paid_7_days: float | None,
    best: Evidence,
    channels: Sequence[Evidence],
    reachable: tuple[bool, bool],
) -> str:
    if wait_reason == WAIT_PROMISE:
        return "A promise to pay is pending: wait for it."
    if wait_reason == WAIT_NOTHING_OVERDUE:
        return "Nothing is overdue."
    if wait_reason == WAIT_ABOUT_TO_PAY:
        assert p_paid_7_days is not None
        return f"Likely to pay within 7 days without a touch ({_percent(p_paid_7_days)})."
    if not all(reachable) and any(reachable):
        return f"Only {'a call' if best.option == CALL else 'an email'} can reach this customer."
    other = next(e for e in channels if e.option != best.option)
    noun = {CALL: "Calls", EMAIL: "Emails"}
    return (
        f"{noun[best.option]} did best: {_percent(best.smoothed)} followed by a payment within 7 days "
        f"(smoothed), against {_percent(other.smoothed)} for {noun[other.option].lower()}."
    )


# The reads --------------------------------------------------------------------------------------------------


def next_best_action(customer_id: int, *, today: dt.date) -> NextBestAction | None:
    """One customer's suggestion; None for an unknown customer."""
    return next_best_actions([customer_id], today=today).get(customer_id)


def next_best_actions(customer_ids: Iterable[int], *, today: dt.date) -> dict[int, NextBestAction]:
    """The suggestion of each known customer among `customer_ids`: seven queries, whatever their number (the
    customers, their promises, the time zones in use, the groups' sizes, the dunning levels, the customers'
    own touches, the groups' touches)."""
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    customers = list(
        Customer.objects.filter(pk__in=ids)
        .annotate(
            can_call=Exists(Contact.objects.filter(customer=OuterRef("pk")).exclude(phone="")),
            can_email=Exists(Contact.objects.filter(customer=OuterRef("pk"), is_ap=True).exclude(email="")),
            overdue=Exists(
                Invoice.objects.filter(customer=OuterRef("pk"), open_amount__gt=0, due_date__lt=today)
            ),
        )
        .values(
            "pk",
            "segment",
            "timezone",
            "priority__risk",
            "priority__p_paid_7_days",
            "can_call",
            "can_email",
            "overdue",
        )
    )
    if not customers:
        return {}
    pending = {
        customer_id
        for customer_id, promised, grace in Promise.objects.filter(
            customer_id__in=ids, status=PromiseStatus.PENDING
        ).values_list("customer_id", "promised_date", "grace_days")
        if dunning_rules.promise_pauses(today, promised_date=promised, grace_days=grace)
    }
    bad_zones = _bad_zones()
    groups = {(c["segment"], risk_band(c["priority__risk"])) for c in customers}
    sizes = _group_sizes(sorted({segment for segment, _ in groups}))
    small = any(sizes.get(group, 0) < MIN_GROUP_CUSTOMERS for group in groups)
    firm = _firm_levels()
    own: dict[int, Tally] = defaultdict(Tally)
    for customer_id, *key, n, k in _touches(
        today=today, by=["t.customer_id"], customer_ids=ids, firm_levels=firm, bad_zones=bad_zones
    ):
        own[customer_id].add(tuple(key), n, k)
    by_group: dict[tuple[str, int], Tally] = defaultdict(Tally)
    segments = None if small else sorted({segment for segment, _ in groups})
    for segment, band, *key, n, k in _touches(
        today=today, by=["c.segment", _band_sql()], segments=segments, firm_levels=firm, bad_zones=bad_zones
    ):
        by_group[(segment, band)].add(tuple(key), n, k)
    everyone = Tally()
    if small:
        for group_tally in by_group.values():
            everyone.merge(group_tally)

    default_hour = settings.RECOUP_DUNNING_SEND_TIME[0]
    out = {}
    for c in customers:
        group = (c["segment"], risk_band(c["priority__risk"]))
        is_small = sizes.get(group, 0) < MIN_GROUP_CUSTOMERS
        out[c["pk"]] = suggest(
            customer_id=c["pk"],
            own=own.get(c["pk"], Tally()),
            similar=everyone if is_small else by_group.get(group, Tally()),
            similar_source=ALL if is_small else SIMILAR,
            today=today,
            default_hour=default_hour,
            overdue=c["overdue"],
            promise_pending=c["pk"] in pending,
            p_paid_7_days=c["priority__p_paid_7_days"],
            can_call=c["can_call"],
            can_email=c["can_email"],
            timezone=c["timezone"] if c["timezone"] not in bad_zones else "UTC",
            similar_group="all customers"
            if is_small
            else f"{c['segment'] or 'no segment'} · {band_label(group[1])}",
        )
    return out


def _bad_zones() -> list[str]:
    """The customers' time zones the database could not convert to (those zoneinfo does not know)."""
    names = Customer.objects.order_by().values_list("timezone", flat=True).distinct()
    bad = []
    for name in names:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            bad.append(name)
    return bad


def _band_sql() -> str:
    top = 100 // RISK_BAND_POINTS - 1
    return (
        f"CASE WHEN p.risk IS NULL THEN {UNSCORED_BAND} WHEN p.risk >= {top * RISK_BAND_POINTS} THEN {top} "
        f"ELSE p.risk / {RISK_BAND_POINTS} END"
    )


def _group_sizes(segments: Sequence[str]) -> dict[tuple[str, int], int]:
    sql = (
        f"SELECT c.segment, {_band_sql()} AS band, COUNT(*) FROM ledger_customer c "
        "LEFT JOIN insights_customerpriority p ON p.customer_id = c.id "
        f"WHERE c.segment IN ({', '.join(['%s'] * len(segments))}) GROUP BY c.segment, band"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(segments))
        return {(segment, int(band)): count for segment, band, count in cursor.fetchall()}


def _firm_levels() -> list[int]:
    """The levels whose built-in text is firm: each policy's final notice and the levels after it."""
    by_policy: dict[int, list[tuple[int, int, list[str]]]] = defaultdict(list)
    for pk, policy_id, position, channels in DunningLevel.objects.order_by(
        "policy_id", "position"
    ).values_list("pk", "policy_id", "position", "channels"):
        by_policy[policy_id].append((pk, position, list(channels or [])))
    firm: list[int] = []
    for levels in by_policy.values():
        final = dunning_rules.final_position((position, channels) for _, position, channels in levels)
        firm.extend(pk for pk, position, _ in levels if position >= final)
    return sorted(firm)


def _touches(
    *,
    today: dt.date,
    by: Sequence[str],
    firm_levels: Sequence[int],
    bad_zones: Sequence[str],
    customer_ids: Sequence[int] | None = None,
    segments: Sequence[str] | None = None,
) -> list[tuple[Any, ...]]:
    """Judged touches counted by `by` (SQL over t, c and p), kind, tone, local weekday and hour: rows of
    (*by, kind, tone, weekday, hour, n, k). One query; the local time in each customer's zone is worked out
    by the database."""
    first, last = today - dt.timedelta(days=LOOKBACK_DAYS), today - dt.timedelta(days=RESPONSE_DAYS)
    # A coarse UTC range around the local days (zones are within ±14 hours) for the indexes.
    low = dt.datetime.combine(first - dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    high = dt.datetime.combine(last + dt.timedelta(days=2), dt.time(), tzinfo=dt.UTC)
    firm = f"m.level_id IN ({', '.join(str(int(pk)) for pk in firm_levels)})" if firm_levels else "1 = 0"
    scope, scope_params = "", list[Any]()
    if customer_ids is not None:
        scope = f" AND c.id IN ({', '.join(['%s'] * len(customer_ids))})"
        scope_params = list(customer_ids)
    elif segments is not None:
        scope = f" AND c.segment IN ({', '.join(['%s'] * len(segments))})"
        scope_params = list(segments)
    tz, tz_params = "c.timezone", list[str]()
    if bad_zones:
        tz = (
            f"(CASE WHEN c.timezone IN ({', '.join(['%s'] * len(bad_zones))}) THEN 'UTC' ELSE c.timezone END)"
        )
        tz_params = list(bad_zones)
    if connection.vendor == "postgresql":
        local = f"(t.at AT TIME ZONE {tz})"
        weekday, hour, day = (
            f"CAST(EXTRACT(ISODOW FROM {local}) AS INTEGER) - 1",
            f"CAST(EXTRACT(HOUR FROM {local}) AS INTEGER)",
            f"CAST({local} AS DATE)",
        )
        window_end = f"x.d + {RESPONSE_DAYS}"
    else:
        db_zone = "'" + (connection.timezone_name or "UTC").replace("'", "''") + "'"
        weekday, hour, day = (
            f"django_datetime_extract('iso_week_day', t.at, {tz}, {db_zone}) - 1",
            f"django_datetime_extract('hour', t.at, {tz}, {db_zone})",
            f"django_datetime_cast_date(t.at, {tz}, {db_zone})",
        )
        window_end = f"date(x.d, '+{RESPONSE_DAYS} days')"
    keys = [f"b{i}" for i in range(len(by))]
    by_columns = ", ".join(f"{expr} AS {key}" for expr, key in zip(by, keys, strict=True))
    inner = f"""
        SELECT {by_columns}, t.customer_id AS customer_id, t.kind AS kind, t.tone AS tone,
               {weekday} AS wd, {hour} AS hr, {day} AS d
        FROM (
            SELECT customer_id, 'call' AS kind, '' AS tone, called_at AS at FROM activity_call
            WHERE called_at >= %s AND called_at < %s
            UNION ALL
            SELECT m.customer_id, 'email', CASE WHEN m.level_id IS NULL THEN COALESCE(mt.tone, '')
                   WHEN {firm} THEN 'firm' ELSE 'friendly' END, m.sent_at
            FROM dunning_outboundmessage m LEFT JOIN dunning_messagetemplate mt ON mt.id = m.template_id
            WHERE m.status = 'sent' AND m.channel = 'email' AND m.sent_at >= %s AND m.sent_at < %s
        ) t
        JOIN ledger_customer c ON c.id = t.customer_id
        LEFT JOIN insights_customerpriority p ON p.customer_id = c.id
        WHERE 1 = 1{scope}"""
    answered = f"""EXISTS (
        SELECT 1 FROM ledger_allocation a JOIN ledger_payment pay ON pay.id = a.payment_id
        WHERE pay.customer_id = x.customer_id AND a.kind = 'payment' AND a.amount > 0
          AND a.date >= x.d AND a.date <= {window_end}
          AND NOT EXISTS (SELECT 1 FROM ledger_allocation r WHERE r.reverses_id = a.id))"""
    group = ", ".join([*(f"x.{key}" for key in keys), "x.kind", "x.tone", "x.wd", "x.hr"])
    sql = f"""
        SELECT {group}, COUNT(*), SUM(CASE WHEN {answered} THEN 1 ELSE 0 END)
        FROM ({inner}) x WHERE x.d >= %s AND x.d <= %s
        GROUP BY {group}"""
    # The zone expression appears three times in the inner SELECT, before its FROM.
    ops = connection.ops
    stamps = [ops.adapt_datetimefield_value(low), ops.adapt_datetimefield_value(high)]
    days = [ops.adapt_datefield_value(first), ops.adapt_datefield_value(last)]
    params = [*tz_params * 3, *stamps, *stamps, *scope_params, *days]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        (*row[:-6], row[-6], row[-5], int(row[-4]), int(row[-3]), int(row[-2]), int(row[-1])) for row in rows
    ]
