"""Every refusal is a 4xx with field-level messages, never a 500."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from recoup.core.errors import DomainError, NotAllowed

CONFLICT = (
    "This conflicts with data written at the same moment (a duplicate external id?). Retry the request."
)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus:

    - NotAllowed (a service refusing the actor, e.g. a write-off by a non-manager) → 403;
    - DomainError (a service refusing) → 400 with the field it names;
    - Django's ValidationError (a model check) → 400 with its fields;
    - IntegrityError, which only a race past the serializer's checks can cause (two requests creating the
      same external id at once) → 409, so that the client retries and gets the ordinary 400.
    """
    if isinstance(exc, NotAllowed):
        return Response({"detail": exc.message}, status=403)
    if isinstance(exc, DomainError):
        return Response({exc.field or "non_field_errors": [exc.message]}, status=400)
    if isinstance(exc, DjangoValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(errors, status=400)
    if isinstance(exc, IntegrityError):
        return Response({"non_field_errors": [CONFLICT]}, status=409)
    return drf_exception_handler(exc, context)
