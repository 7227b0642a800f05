"""Dispute arithmetic and policy with no ORM: who may do what, SLA states, the kinds of file accepted, and the
cycle-time figures. Every date is passed in."""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from recoup.users.models import Role


class Action(StrEnum):
    OPEN = "open"
    COMMENT = "comment"
    ATTACH = "attach"
    ASSIGN = "assign"
    REVIEW = "review"
    RESOLVE = "resolve"
    WRITE_OFF = "write_off"  # resolving with the written-off outcome
    CONFIGURE = "configure"  # changing the reasons


EVERYTHING = frozenset(Action)
# The roles: a manager does everything; a resolver acts on the disputes of their own teams (all but
# writing off); a collector opens disputes, comments and adds the customer's documents; a viewer reads.
ALLOWED: dict[str, frozenset[Action]] = {
    Role.ADMIN: EVERYTHING,
    Role.MANAGER: EVERYTHING,
    Role.RESOLVER: frozenset({Action.COMMENT, Action.ATTACH, Action.ASSIGN, Action.REVIEW, Action.RESOLVE}),
    Role.COLLECTOR: frozenset({Action.OPEN, Action.COMMENT, Action.ATTACH}),
    Role.VIEWER: frozenset(),
}
# Roles that see only the disputes they or their team own.
SCOPED_ROLES = frozenset({Role.RESOLVER})
# Who can own a dispute.
OWNER_ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.RESOLVER, Role.COLLECTOR})


def allowed(role: str, action: Action) -> bool:
    return action in ALLOWED.get(role, frozenset())


# SLA --------------------------------------------------------------------------------------------------------


class SlaState(StrEnum):
    ON_TRACK = "on_track"
    DUE_SOON = "due_soon"  # within DUE_SOON_DAYS of its last day
    OVERDUE = "overdue"  # active, past its last day
    MET = "met"  # resolved within it
    MISSED = "missed"  # resolved after it


SLA_TEXT = {
    SlaState.ON_TRACK: "On track",
    SlaState.DUE_SOON: "Due soon",
    SlaState.OVERDUE: "SLA overdue",
    SlaState.MET: "SLA met",
    SlaState.MISSED: "SLA missed",
}
DUE_SOON_DAYS = 2


def sla_due(opened_on: dt.date, sla_days: int) -> dt.date:
    return opened_on + dt.timedelta(days=sla_days)


def sla_state(*, due_on: dt.date, resolved_on: dt.date | None, today: dt.date) -> SlaState:
    if resolved_on is not None:
        return SlaState.MET if resolved_on <= due_on else SlaState.MISSED
    if today > due_on:
        return SlaState.OVERDUE
    if (due_on - today).days <= DUE_SOON_DAYS:
        return SlaState.DUE_SOON
    return SlaState.ON_TRACK


# Documents --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileKind:
    extensions: tuple[str, ...]
    content_type: str
    magic: tuple[bytes, ...] = ()  # the file must start with one of these; none: it must be UTF-8 text


# What a dispute collects: the customer's letters and scans, delivery notes, spreadsheets, emails. Nothing a
# browser would run (HTML, SVG, scripts) and nothing executable; the content must match the name.
FILE_KINDS = (
    FileKind((".pdf",), "application/pdf", (b"%PDF-",)),
    FileKind((".png",), "image/png", (b"\x89PNG\r\n\x1a\n",)),
    FileKind((".jpg", ".jpeg"), "image/jpeg", (b"\xff\xd8\xff",)),
    FileKind((".gif",), "image/gif", (b"GIF87a", b"GIF89a")),
    FileKind((".tif", ".tiff"), "image/tiff", (b"II*\x00", b"MM\x00*")),
    FileKind(
        (".xlsx",), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (b"PK\x03\x04",)
    ),
    FileKind(
        (".docx",),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        (b"PK\x03\x04",),
    ),
    FileKind((".txt",), "text/plain"),
    FileKind((".csv",), "text/csv"),
    FileKind((".eml",), "message/rfc822"),
)
ACCEPTED_EXTENSIONS = tuple(ext for kind in FILE_KINDS for ext in kind.extensions)


class Refused(ValueError):
    pass


def file_kind(name: str, head: bytes) -> FileKind:
    """The kind of an upload from its name and its first bytes; Refused when either does not fit."""
    lowered = name.lower()
    kind = next((k for k in FILE_KINDS if lowered.endswith(k.extensions)), None)
    if kind is None:
        raise Refused(
            f"{name!r} is not a kind of file a dispute accepts; use one of {', '.join(ACCEPTED_EXTENSIONS)}."
        )
    if kind.magic:
        if not head.startswith(kind.magic):
            raise Refused(f"{name!r} is not a {kind.extensions[0]} file: its content is of another kind.")
    elif b"\x00" in head or not _utf8_prefix(head):
        raise Refused(f"{name!r} is not a text file: it holds binary data.")
    return kind


def _utf8_prefix(head: bytes) -> bool:
    # The head may end inside a multi-byte character: allow up to three bytes of one cut short.
    for cut in range(4):
        try:
            head[: len(head) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return True
    return False


# Figures ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CycleTime:
    resolved: int
    mean_days: float | None
    median_days: float | None


def cycle_time(days: Sequence[int]) -> CycleTime:
    """Cycle time = resolved − opened, in days, over the disputes resolved (DESIGN.md)."""
    if not days:
        return CycleTime(0, None, None)
    return CycleTime(len(days), round(statistics.fmean(days), 2), float(statistics.median(days)))


def hit_rate(states: Iterable[SlaState]) -> float | None:
    """The share of resolved disputes that met their SLA, in per cent."""
    resolved = [s for s in states if s in (SlaState.MET, SlaState.MISSED)]
    if not resolved:
        return None
    return round(100 * sum(s == SlaState.MET for s in resolved) / len(resolved), 2)


AGE_BANDS = ((0, 7, "0–7 days"), (8, 30, "8–30 days"), (31, 60, "31–60 days"), (61, None, "over 60 days"))


def age_band(days: int) -> str:
    for low, high, label in AGE_BANDS:
        if days >= low and (high is None or days <= high):
            return label
    return AGE_BANDS[0][2]  # opened in the future: cannot happen through the services
