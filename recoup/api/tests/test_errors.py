"""The exception handler turns the domain's and the database's refusals into 4xx answers, and the parser
refuses what no database column can hold."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from recoup.api.errors import CONFLICT, exception_handler
from recoup.core.errors import DomainError
from recoup.dunning.models import DunningPolicy
from recoup.ledger.models import Customer
from recoup.ledger.tests.factories import CustomerFactory


def test_domain_error_is_a_400_on_its_field():
    response = exception_handler(DomainError("Too much.", field="amount"), {})
    assert response is not None
    assert (response.status_code, response.data) == (400, {"amount": ["Too much."]})
    response = exception_handler(DomainError("Already reversed."), {})
    assert response is not None
    assert (response.status_code, response.data) == (400, {"non_field_errors": ["Already reversed."]})


def test_django_validation_errors_keep_their_fields():
    response = exception_handler(ValidationError({"email": ["Bad address."]}), {})
    assert response is not None
    assert (response.status_code, response.data) == (400, {"email": ["Bad address."]})
    response = exception_handler(ValidationError("Nope."), {})
    assert response is not None
    assert (response.status_code, response.data) == (400, {"non_field_errors": ["Nope."]})


def test_a_race_past_the_checks_is_a_409_to_retry():
    response = exception_handler(IntegrityError("UNIQUE constraint failed: ledger_invoice.external_id"), {})
    assert response is not None
    assert (response.status_code, response.data) == (409, {"non_field_errors": [CONFLICT]})


def test_anything_else_is_left_to_drf():
    assert exception_handler(RuntimeError("bug"), {}) is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("patch", "customer", {"collector": "\x00"}),
        ("post", "/api/v1/customers/", {"external_id": "C-1", "name": "A\x00B"}),
        ("post", "/api/v1/dunning-policies/", {"name": "X", "levels": [{"name": "A", "offset_days": 1}],
                                               "description": "a\x00"}),
        ("post", "/api/v1/invoices/bulk/", [{"external_id": "I\x00", "customer": "C-1"}]),
    ],
)  # fmt: skip
def test_a_nul_character_anywhere_in_a_body_is_a_400_and_nothing_is_written(api, method, url, body):
    customer = CustomerFactory(external_id="C-0")
    url = f"/api/v1/customers/{customer.pk}/" if url == "customer" else url

    response = getattr(api, method)(url, body, format="json")

    assert response.status_code == 400
    assert response.json() == {"detail": "JSON parse error - text may not contain NUL characters (\\u0000)"}
    customer.refresh_from_db()
    assert (Customer.objects.count(), customer.collector_id, DunningPolicy.objects.count()) == (1, None, 1)
