"""Figures computed from the ledger as of a day, kept in the process and served again while the ledger's
watermark up to that day is unchanged (recoup.ledger.selectors.ledger_revisions).

The dashboard's JSON endpoints, one request each, all read today's aging and the same closed months' credit
sales: inside `reusing()` the first request computes them and the others get them back after one query, the
watermark. Any committed change dated on or before the day (an invoice, an allocation, an FX rate; with
`undated`, a customer's name, external id or collector) makes the next lookup compute again. A change dated
after it does not: a payment recorded today leaves last month's sales kept.

Only outside a transaction: what is computed then is committed, and so is the watermark it is kept under (a
figure of a transaction's own writes would outlive their rollback). Kept per process, a few entries each.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db import connection

from recoup.ledger.selectors import ledger_revisions

T = TypeVar("T")

_reuse: ContextVar[bool] = ContextVar("ledger_reuse", default=False)
_every: list[Kept[Any]] = []


@contextmanager
def reusing() -> Iterator[None]:
    """Within the block, `Kept.get` serves what this process computed before while it is still the ledger's
    answer; outside it, and inside a transaction, everything is computed."""
    token = _reuse.set(True)
    try:
        yield
    finally:
        _reuse.reset(token)


def _active() -> bool:
    """Whether a figure may be served from, or kept in, the process now."""
    return _reuse.get() and not connection.in_atomic_block


def forget() -> None:
    """Drop everything kept (a benchmark's cold start, a test's)."""
    for kept in _every:
        kept.clear()


class Kept(Generic[T]):
    """Up to `size` figures, the most recently computed ones, each under its key and the watermark up to its
    day read before it was computed."""

    def __init__(self, size: int, *, undated: bool = False) -> None:
        self.size = size
        self.undated = undated
        self._entries: OrderedDict[Hashable, tuple[int, T]] = OrderedDict()
        self._lock = threading.Lock()
        _every.append(self)

    def get(self, key: Hashable, as_of: dt.date, compute: Callable[[], T]) -> T:
        """Inside reusing() and outside a transaction, the figure kept under `key` (in today's base currency)
        if nothing it depends on, dated on or before `as_of`, has changed since; else `compute()`, kept.
        Elsewhere `compute()` alone."""
        if not _active():
            return compute()
        key = (key, settings.BASE_CURRENCY)
        # Read before the ledger: a change committed while the figure is computed makes the next lookup miss.
        revision = ledger_revisions([as_of], undated=self.undated)[as_of]
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry[0] == revision:
            return entry[1]
        value = compute()
        with self._lock:
            self._entries[key] = (revision, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
