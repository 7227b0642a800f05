from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from recoup.core.errors import DomainError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus DomainError → 400 with the field it names."""
    if isinstance(exc, DomainError):
        return Response({exc.field or "non_field_errors": [exc.message]}, status=400)
    return drf_exception_handler(exc, context)
