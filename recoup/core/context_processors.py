from typing import Any

from django.conf import settings
from django.http import HttpRequest


def recoup(request: HttpRequest) -> dict[str, Any]:
    return {"BASE_CURRENCY": settings.BASE_CURRENCY}
