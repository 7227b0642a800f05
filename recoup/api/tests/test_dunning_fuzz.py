"""Garbage in, 4xx out, for the dunning endpoints: random and hostile policies, runs, holds, invoice and
customer patches and query strings never get a 500."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from recoup.api.tests.conftest import dunned_customer
from recoup.api.tests.test_fuzz import HOSTILE, scalars
from recoup.dunning.models import MessageStatus, OutboundMessage
from recoup.dunning.services import dunning_run, hold_create
from recoup.users.models import Role, User
from recoup.users.services import token_create

pytestmark = pytest.mark.django_db
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

TEXTS = [
    "Standard",
    "Strict",
    "en",
    "",
    " ",
    "\x00",
    "a\x00b",
    "x" * 101,
    "x" * 300,
    "{{ total_due }}",
    "{{ x|date:'Y' }}",
    "{% if %}",
    "{% endif %}",
    "{% load i18n %}",
    "{% include 'x.html' %}",
    "{% for x in lines %}{{ x }}{% endfor %}",
    "{% now 'Y' %}",
    "{% widthratio 1 0 100 %}",
    "{% cycle %}",
    "{{",
]
texts = st.one_of(st.sampled_from(TEXTS), st.text(max_size=12))
days = st.one_of(
    st.sampled_from([0, 1, -1, 3650, 3651, -3651, 2**31, -(2**31) - 1, 2**63, 32768]),
    st.integers(min_value=-(10**12), max_value=10**12),
)
anything = st.one_of(scalars, texts)
levels = st.fixed_dictionaries(
    {},
    optional={
        "name": anything,
        "offset_days": st.one_of(days, scalars),
        "channels": st.one_of(
            st.lists(st.sampled_from(["email", "letter", "call", "fax", ""]), max_size=4), scalars
        ),
        "min_amount": anything,
        "min_gap_days": st.one_of(days, scalars),
        "actions": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "task_for_role": st.one_of(st.sampled_from([*Role.values, "boss"]), scalars),
                    "credit_hold": scalars,
                    "call": scalars,
                },
            ),
            scalars,
        ),
        "templates": st.one_of(
            st.dictionaries(
                st.one_of(st.sampled_from(["en", "fr", "", "x" * 17]), st.text(max_size=3)),
                st.one_of(st.fixed_dictionaries({"subject": anything, "body": anything}), scalars),
                max_size=2,
            ),
            scalars,
        ),
        "colour": scalars,
    },
)
policies = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "id": scalars,
            "name": anything,
            "description": anything,
            "default": scalars,
            "allow_level_jump": scalars,
            "tolerance": anything,
            "default_language": anything,
            "levels": st.one_of(st.lists(levels, max_size=4), scalars),
        },
    ),
    scalars,
)
amounts = st.one_of(
    st.sampled_from(
        ["0", "1.00", "0.0001", "0.00001", "1" * 15, "1" * 16, "1e3", "-1", "99999999999999.9999", 2]
    ),
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
)


clean = st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), min_size=1)
template_texts = st.one_of(
    st.sampled_from(["Dear {{ customer_name }}", "{{ total_due }} overdue", "Hi", "x" * 300]), clean, texts
)


@st.composite
def near_valid_policies(draw: st.DrawFn) -> dict[str, Any]:
    """A valid policy with at most one part made hostile, so that the extremes reach the database."""
    broken = draw(st.sampled_from([None, "name", "offset", "gap", "amount", "template", "language", "level"]))

    def choose(
        part: str, good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]
    ) -> st.SearchStrategy[Any]:
        return bad if part == broken else good

    def pick(part: str, good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> Any:
        return draw(choose(part, good, bad))

    names = st.text(alphabet="abcdefghij XYZ-é", min_size=1, max_size=20).filter(str.strip)
    offsets = sorted(
        pick(
            "offset",
            st.sets(st.integers(-60, 400), min_size=1, max_size=4),
            st.sets(days, min_size=1, max_size=4),
        )
    )
    levels = [
        {
            "name": pick("level", names, st.one_of(clean, texts)),
            "offset_days": offset,
            "channels": draw(
                st.lists(st.sampled_from(["email", "letter", "call"]), unique=True, min_size=1, max_size=3)
            ),
            "min_amount": pick("amount", st.sampled_from(["0", "25.50", "0.0001"]), amounts),
            "min_gap_days": pick("gap", st.integers(0, 30), days),
            "actions": {
                "task_for_role": draw(st.sampled_from([None, "manager"])),
                "credit_hold": draw(st.booleans()),
            },
            "templates": draw(
                st.dictionaries(
                    choose("language", st.sampled_from(["en", "fr", "de-CH"]), st.one_of(clean, texts)),
                    st.fixed_dictionaries(
                        {
                            "subject": choose(
                                "template", st.sampled_from(["Hi {{ customer_name }}"]), template_texts
                            ),
                            "body": choose(
                                "template", st.sampled_from(["{{ total_due }} overdue"]), template_texts
                            ),
                        }
                    ),
                    max_size=2,
                )
            ),
        }
        for offset in offsets
    ]
    return {
        "name": pick(
            "name", st.one_of(st.sampled_from(["Standard", "Strict"]), names), st.one_of(clean, texts)
        ),
        "description": draw(st.one_of(st.just(""), names)),
        "default": draw(st.booleans()),
        "allow_level_jump": draw(st.booleans()),
        "tolerance": pick("amount", st.sampled_from(["1.00", "0", 2]), amounts),
        "default_language": pick("language", st.sampled_from(["en", "fr"]), st.one_of(clean, texts)),
        "levels": levels,
    }


policies = st.one_of(near_valid_policies(), policies)
dates = st.one_of(st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)).map(str), scalars)


@pytest.fixture
def client(clock, standard, strict) -> APIClient:
    manager = User.objects.create_user(username="fuzz", password="x", role=Role.MANAGER)
    customer, _ = dunned_customer("C1")
    dunning_run(actor=None, as_of=dt.date(2026, 3, 5))
    OutboundMessage.objects.update(status=MessageStatus.FAILED)
    hold_create(actor=None, customer=customer, reason="x")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=manager, actor=None).key}")
    return client


def send(client: APIClient, method: str, url: str, payload: Any) -> Any:
    # Each example rolls back, so that one creating or changing something cannot hide it from the next.
    with transaction.atomic():
        response = getattr(client, method)(url, json.dumps(payload), content_type="application/json")
        transaction.set_rollback(True)
    event(f"{method} {response.status_code}")  # --hypothesis-show-statistics: how many got through
    assert response.status_code < 500, (method, url, payload, response.content[:500])
    if response.status_code >= 400 and response.status_code != 405:
        assert isinstance(response.json(), dict)
    return response


@FUZZ
@given(payload=policies)
def test_garbage_policies_posted_get_a_4xx_or_a_success(client, payload):
    send(client, "post", "/api/v1/dunning-policies/", payload)


@FUZZ
@given(payload=policies)
def test_garbage_policies_put_get_a_4xx_or_a_success(client, strict, payload):
    send(client, "put", f"/api/v1/dunning-policies/{strict.pk}/", payload)


def ids(client: APIClient, path: str) -> int:
    return int(client.get(path).json()["results"][0]["id"])


@FUZZ
@given(
    target=st.sampled_from(["runs", "holds", "invoice", "customer", "retry", "release"]),
    payload=st.one_of(
        st.fixed_dictionaries(
            {},
            optional={
                "as_of": dates,
                "dry_run": scalars,
                "customer": st.one_of(st.sampled_from(["C1", "C2"]), scalars),
                "invoice": st.one_of(st.sampled_from(["C1-1"]), scalars),
                "reason": anything,
                "until": dates,
                "dunning_policy": anything,
                "amount": scalars,
                "name": anything,
            },
        ),
        scalars,
    ),
)
def test_garbage_to_every_other_dunning_write_gets_a_4xx_or_a_success(client, target, payload):
    invoice = ids(client, "/api/v1/invoices/")
    url, method = {
        "runs": ("/api/v1/dunning-runs/", "post"),
        "holds": ("/api/v1/dunning-holds/", "post"),
        "invoice": (f"/api/v1/invoices/{invoice}/", "patch"),
        "customer": (f"/api/v1/customers/{ids(client, '/api/v1/customers/')}/", "patch"),
        "retry": (f"/api/v1/dunning-messages/{ids(client, '/api/v1/dunning-messages/')}/retry/", "post"),
        "release": (f"/api/v1/dunning-holds/{ids(client, '/api/v1/dunning-holds/')}/release/", "post"),
    }[target]
    send(client, method, url, payload)


QUERY_KEYS = [
    "as_of",
    "as_of_after",
    "as_of_before",
    "status",
    "channel",
    "customer",
    "customer_id",
    "run",
    "invoice",
    "invoice_id",
    "active",
    "name",
    "default",
    "search",
    "ordering",
    "page",
    "page_size",
]


@FUZZ
@given(
    path=st.sampled_from(
        [
            "dunning-policies/",
            "dunning-runs/",
            "dunning-messages/",
            "dunning-holds/",
            "invoices/{invoice}/dunning/",
        ]
    ),
    params=st.dictionaries(
        st.sampled_from(QUERY_KEYS),
        st.one_of(st.sampled_from([str(v) for v in HOSTILE]), st.text(max_size=12), dates.map(str)),
        max_size=4,
    ),
)
def test_garbage_query_strings_on_dunning_reads_get_a_4xx_or_a_success(client, path, params):
    url = "/api/v1/" + path.format(invoice=ids(client, "/api/v1/invoices/"))
    assert client.get(url, params).status_code < 500


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"null",
        b"0",
        b'"x"',
        b'{"as_of": NaN}',
        b'{"as_of": 1e999, "tolerance": 1e999}',
        b"[" * 10000,
        b"\xff",
    ],
)
@pytest.mark.parametrize(
    "url", ["/api/v1/dunning-policies/", "/api/v1/dunning-runs/", "/api/v1/dunning-holds/"]
)
def test_malformed_bodies_get_a_400(client, url, body):
    response = client.post(url, body, content_type="application/json")
    # An empty body is no body: a run as of today, with every default.
    assert response.status_code == (201 if (url, body) == ("/api/v1/dunning-runs/", b"") else 400)
