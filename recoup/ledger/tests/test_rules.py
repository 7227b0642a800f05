import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recoup.ledger.rules import (
    BucketError,
    bucket_floor_dates,
    bucket_index,
    bucket_labels,
    days_past,
    parse_buckets,
)


def test_default_labels():
    assert bucket_labels((30, 60, 90, 120)) == ("current", "1-30", "31-60", "61-90", "91-120", "120+")


@pytest.mark.parametrize(("days", "index"), [(-5, 0), (0, 0), (1, 1), (30, 1), (31, 2), (120, 4), (121, 5)])
def test_bucket_edges(days, index):
    assert bucket_index(days, (30, 60, 90, 120)) == index


@pytest.mark.parametrize("text", ["", "30,30", "0,30", "60,30", "a,b", "-1"])
def test_bad_buckets_are_refused(text):
    with pytest.raises(BucketError):
        parse_buckets(text)


def test_parse_buckets():
    assert parse_buckets("15, 45,90") == (15, 45, 90)


bounds = st.lists(st.integers(1, 400), min_size=1, max_size=6, unique=True).map(sorted).map(tuple)


@given(
    as_of=st.dates(dt.date(2000, 1, 1), dt.date(2100, 1, 1)), offset=st.integers(-500, 500), buckets=bounds
)
def test_floor_dates_agree_with_bucket_index(as_of, offset, buckets):
    basis = as_of - dt.timedelta(days=offset)
    floors = bucket_floor_dates(as_of, buckets)
    by_dates = next((i for i, floor in enumerate(floors) if basis >= floor), len(buckets) + 1)
    assert by_dates == bucket_index(days_past(as_of, basis), buckets)
