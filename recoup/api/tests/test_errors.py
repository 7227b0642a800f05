"""The exception handler turns the domain's and the database's refusals into 4xx answers."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError

from recoup.api.errors import CONFLICT, exception_handler
from recoup.core.errors import DomainError


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
