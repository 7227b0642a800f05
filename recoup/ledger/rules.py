"""Pure aging arithmetic: no ORM and no clock. Every date comes in as an argument.

With buckets (30, 60, 90, 120) the labels are current, 1-30, 31-60, 61-90, 91-120 and 120+. Days past the
basis date (due date by default) decide the bucket; "current" means 0 days or fewer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from itertools import pairwise

DEFAULT_BUCKETS: tuple[int, ...] = (30, 60, 90, 120)


class BucketError(ValueError):
    pass


def parse_buckets(text: str | Sequence[int]) -> tuple[int, ...]:
    """'30,60,90,120' → (30, 60, 90, 120). Bounds must be positive and strictly increasing."""
    if isinstance(text, str):
        try:
            bounds = tuple(int(part) for part in text.split(",") if part.strip())
        except ValueError as exc:
            raise BucketError(f"{text!r} is not a comma-separated list of whole days") from exc
    else:
        bounds = tuple(text)
    if not bounds:
        raise BucketError("at least one bucket bound is needed")
    if bounds[0] <= 0 or any(b <= a for a, b in pairwise(bounds)):
        raise BucketError(f"bucket bounds must be positive and strictly increasing, not {list(bounds)}")
    return bounds


def bucket_labels(buckets: Sequence[int]) -> tuple[str, ...]:
    labels = ["current"]
    low = 1
    for bound in buckets:
        labels.append(f"{low}-{bound}")
        low = bound + 1
    labels.append(f"{buckets[-1]}+")
    return tuple(labels)


def days_past(as_of: dt.date, basis_date: dt.date) -> int:
    return (as_of - basis_date).days


def bucket_index(days: int, buckets: Sequence[int]) -> int:
    """0 for current; i for the i-th bound's bucket; len(buckets) + 1 past the last bound."""
    if days <= 0:
        return 0
    for i, bound in enumerate(buckets, start=1):
        if days <= bound:
            return i
    return len(buckets) + 1


def bucket_floor_dates(as_of: dt.date, buckets: Sequence[int]) -> tuple[dt.date, ...]:
    """The earliest basis date in each bucket but the last, so a query can bucket with plain date comparisons.

    A basis date d is in bucket i (the first i such that d >= floors[i]), else in the last bucket.
    This agrees with bucket_index(days_past(as_of, d)) for every d.
    """
    return (as_of, *(as_of - dt.timedelta(days=bound) for bound in buckets))
