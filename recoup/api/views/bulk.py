"""All-or-nothing bulk creation: validate every item, then write all in one transaction, or none."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models, transaction
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from recoup.api.fields import is_external_id
from recoup.core.errors import DomainError

BULK_LIMIT = 1000


class BulkResultItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    results = BulkResultItemSerializer(many=True)


BulkErrorSerializer = inline_serializer(
    "BulkErrors",
    fields={
        "errors": serializers.DictField(
            child=serializers.DictField(),
            help_text='Field errors keyed by item index, e.g. {"3": {"due_date": ["..."]}}.',
        )
    },
)


class _ItemRefused(Exception):
    def __init__(self, index: int, error: DomainError) -> None:
        self.index, self.error = index, error


def bulk_create(
    request: Request,
    serializer_class: type[serializers.ModelSerializer],
    *,
    references: dict[type[models.Model], tuple[str, ...]],
) -> Response:
    """Create one document per item of the JSON list in `request.data`.

    `references` names, per model, the item keys that hold external ids of existing rows
    ("allocations.invoice" for a key inside a nested list); each model is looked up in one query, not one per
    item.
    """
    items = request.data
    if not isinstance(items, list):
        return _refuse("Send a JSON list of items.")
    if not items:
        return _refuse("The list is empty.")
    if len(items) > BULK_LIMIT:
        return _refuse(f"A bulk request holds at most {BULK_LIMIT} items; this one has {len(items)}.")
    model: type[models.Model] = serializer_class.Meta.model
    context: dict[str, Any] = {
        "request": request,
        "lookup_cache": {m: _lookup(m, _external_ids(items, keys)) for m, keys in references.items()},
        "taken_external_ids": set(
            model._default_manager.filter(external_id__in=_external_ids(items, ("external_id",))).values_list(
                "external_id", flat=True
            )
        ),
    }
    checked = [serializer_class(data=item, context=context) for item in items]
    errors: dict[str, Any] = {str(i): s.errors for i, s in enumerate(checked) if not s.is_valid()}
    for key, repeated in _repeated_external_ids(items).items():
        errors[key] = {**errors.get(key, {}), **repeated}
    if errors:
        return Response({"errors": dict(sorted(errors.items(), key=lambda e: int(e[0])))}, status=400)
    created = []
    try:
        with transaction.atomic():
            for index, serializer in enumerate(checked):
                try:
                    created.append(serializer.save())
                except DomainError as exc:
                    raise _ItemRefused(index, exc) from exc
    except _ItemRefused as refused:
        field = refused.error.field or "non_field_errors"
        return Response({"errors": {str(refused.index): {field: [refused.error.message]}}}, status=400)
    results = [{"id": row.pk, "external_id": row.external_id} for row in created]
    return Response({"created": len(results), "results": results}, status=status.HTTP_201_CREATED)


def _refuse(message: str) -> Response:
    return Response({"non_field_errors": [message]}, status=400)


def _external_ids(items: list[Any], keys: Iterable[str]) -> set[str]:
    """The string values under `keys` ("customer", or "allocations.invoice" for a nested list)."""
    found: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            continue
        for key in keys:
            outer, _, inner = key.partition(".")
            value = item.get(outer)
            if not inner:
                values = [value]
            elif isinstance(value, list):
                values = [n.get(inner) for n in value if isinstance(n, dict)]
            else:
                values = []
            found.update(v for v in values if isinstance(v, str) and is_external_id(v))
    return found


def _lookup(model: type[models.Model], external_ids: set[str]) -> dict[str, models.Model]:
    rows = model._default_manager.filter(external_id__in=external_ids)
    return {row.external_id: row for row in rows}  # type: ignore[attr-defined]


def _repeated_external_ids(items: list[Any]) -> dict[str, dict[str, list[str]]]:
    first_seen: dict[str, int] = {}
    errors = {}
    for index, item in enumerate(items):
        external_id = item.get("external_id") if isinstance(item, dict) else None
        if not isinstance(external_id, str):
            continue
        external_id = external_id.strip()
        if external_id in first_seen:
            errors[str(index)] = {
                "external_id": [f"Repeats the external id of item {first_seen[external_id]}."]
            }
        else:
            first_seen[external_id] = index
    return errors
