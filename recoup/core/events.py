from __future__ import annotations

from typing import Any

from django.db import models

from recoup.core.models import Event


def record_event(
    *,
    actor: Any,
    verb: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    data: dict[str, Any] | None = None,
) -> Event:
    """Append one audit event. `actor` is a user or None for the system."""
    if target is not None:
        target_type = target._meta.label_lower
        target_id = str(target.pk)
    return Event.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        verb=verb,
        target_type=target_type,
        target_id=target_id,
        data=data or {},
    )
