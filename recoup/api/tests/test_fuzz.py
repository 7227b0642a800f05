"""Garbage in, 4xx out: random and hostile input to every endpoint never gets a 500."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from recoup.ledger import services
from recoup.ledger.tests.factories import CustomerFactory, InvoiceFactory
from recoup.users.models import Role, User
from recoup.users.services import token_create

pytestmark = pytest.mark.django_db

FIELDS = {
    "/api/v1/customers/": [
        "external_id",
        "name",
        "currency",
        "payment_terms_days",
        "credit_limit",
        "collector",
        "timezone",
        "country",
        "language",
        "on_hold",
        "do_not_dun",
    ],
    "/api/v1/contacts/": ["customer", "name", "email", "phone", "is_ap"],
    "/api/v1/invoices/": ["external_id", "customer", "issue_date", "due_date", "amount", "currency"],
    "/api/v1/payments/": [
        "external_id",
        "customer",
        "date",
        "amount",
        "currency",
        "reference",
        "invoice",
        "allocations",
    ],
    "/api/v1/credit-notes/": [
        "external_id",
        "customer",
        "date",
        "amount",
        "currency",
        "reason",
        "invoice",
        "allocations",
    ],
    "/api/v1/allocations/": ["kind", "invoice", "payment", "credit_note", "amount", "date", "memo"],
    "/api/v1/fx-rates/": ["currency", "date", "rate"],
}
BULK = {"/api/v1/invoices/bulk/": "/api/v1/invoices/", "/api/v1/payments/bulk/": "/api/v1/payments/"}
FILTERS = [
    "customer",
    "customer_id",
    "status",
    "overdue",
    "due_date_after",
    "due_date_before",
    "issue_date_after",
    "date_after",
    "date_before",
    "currency",
    "external_id",
    "search",
    "ordering",
    "page",
    "page_size",
    "collector",
    "collector_id",
    "on_hold",
    "kind",
    "invoice",
    "invoice_id",
    "payment",
    "unapplied",
]

HOSTILE = [
    "C1",
    "I1",
    "P1",
    "N1",
    "EUR",
    "JPY",
    "usd",
    "payment",
    "write_off",
    "credit_note",
    "open",
    "manager",
    "2026-01-01",
    "2026-02-30",
    "0001-01-01",
    "9999-12-31",
    "2026-1-1",
    "NaN",
    "-NaN",
    "Infinity",
    "-Infinity",
    "1e5",
    "1E-3",
    "-0",
    "0",
    "0.0001",
    "12.345",
    "99999999999999999999.99",
    "1" * 400,
    "\x00",
    "a\x00b",
    "",
    " ",
    "Europe/Paris",
    "x" * 300,
    "' OR 1=1 --",
    "%",
    "_",
    "ü",
    10**20,
    10**40,
    -1,
    0,
    1,
    1.5,
    1e308,
    True,
    False,
    None,
    [],
    {},
    [{"invoice": "I1"}],
    [{"invoice": "I1", "amount": "1e400"}],
    [{"invoice": None, "amount": "NaN"}],
    [["I1"]],
    {"invoice": "I1"},
]
scalars = st.one_of(
    st.sampled_from(HOSTILE),
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)).map(str),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.lists(st.fixed_dictionaries({}, optional={"invoice": scalars, "amount": scalars}), max_size=3),
    st.dictionaries(st.text(max_size=5), scalars, max_size=3),
)


def payloads(fields: list[str]) -> st.SearchStrategy[Any]:
    return st.one_of(st.fixed_dictionaries({}, optional={f: values for f in fields}), values)


requests = st.one_of(
    st.sampled_from(sorted(FIELDS)).flatmap(lambda url: st.tuples(st.just(url), payloads(FIELDS[url]))),
    st.sampled_from(sorted(BULK)).flatmap(
        lambda url: st.tuples(
            st.just(url), st.one_of(st.lists(payloads(FIELDS[BULK[url]]), max_size=4), values)
        )
    ),
)


@pytest.fixture
def client(db) -> APIClient:
    manager = User.objects.create_user(username="fuzz", password="x", role=Role.MANAGER)
    customer = CustomerFactory.create(external_id="C1")
    invoice = InvoiceFactory.create(external_id="I1", customer=customer, amount=Decimal("100.00"))
    services.payment_create(
        actor=manager,
        customer=customer,
        external_id="P1",
        date=dt.date(2026, 1, 5),
        amount=Decimal("50.00"),
        apply_to=[services.Application(invoice, Decimal("10.00"))],
    )
    services.credit_note_create(
        actor=manager, customer=customer, external_id="N1", date=dt.date(2026, 1, 6), amount=Decimal("5.00")
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=manager, actor=None).key}")
    return client


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(request=requests)
def test_garbage_posted_to_every_write_endpoint_gets_a_4xx_or_a_success(client, request):
    url, payload = request
    response = client.post(url, json.dumps(payload), content_type="application/json")
    assert response.status_code < 500
    if response.status_code >= 400:
        assert isinstance(response.json(), dict)


@FUZZ
@given(payload=payloads(FIELDS["/api/v1/customers/"]))
def test_garbage_patched_to_a_customer_gets_a_4xx_or_a_success(client, payload):
    # Each example rolls back, so one that renames C1 cannot hide it from the next.
    with transaction.atomic():
        response = client.patch(
            f"/api/v1/customers/{CustomerFactory._meta.model.objects.get(external_id='C1').pk}/",
            json.dumps(payload),
            content_type="application/json",
        )
        transaction.set_rollback(True)
    assert response.status_code < 500


@FUZZ
@given(
    url=st.sampled_from([*sorted(FIELDS), "/api/v1/reports/aging"]),
    params=st.dictionaries(
        st.sampled_from([*FILTERS, "as_of", "by", "basis", "buckets", "format"]),
        st.one_of(st.sampled_from([str(v) for v in HOSTILE]), st.text(max_size=12)),
        max_size=4,
    ),
)
def test_garbage_query_strings_get_a_4xx_or_a_success(client, url, params):
    response = client.get(url, params)
    assert response.status_code < 500


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"[",
        b"null",
        b"0",
        b'"x"',
        b'{"amount": NaN}',
        b'{"amount": Infinity}',
        b'{"amount": 1e999}',
        b'{"amount": -0}',
        b'{"amount": ' + b"9" * 5000 + b"}",
        b"\xff\xfe",
        b'{"a": "\\ud800"}',
        b'{"external_id": "I\\u0000"}',
        b"[" * 10000,
    ],
)
@pytest.mark.parametrize("url", ["/api/v1/invoices/", "/api/v1/invoices/bulk/", "/api/v1/payments/bulk/"])
def test_malformed_bodies_get_a_400(client, url, body):
    response = client.post(url, body, content_type="application/json")
    assert response.status_code == 400
