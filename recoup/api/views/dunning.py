"""Dunning: policies, runs, the outbox and holds. Every role reads; managers and admins set policies, start
runs and retry messages; collectors and resolvers may also put dunning on hold and release it."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from recoup.api.filters import DunningHoldFilter, DunningPolicyFilter, DunningRunFilter, OutboundMessageFilter
from recoup.api.pagination import Pagination
from recoup.api.parsers import DecimalJSONParser, PolicyJSONParser
from recoup.api.serializers.dunning import (
    DryRunSerializer,
    DunningHoldSerializer,
    DunningPolicySerializer,
    DunningRunSerializer,
    OutboundMessageDetailSerializer,
    OutboundMessageSerializer,
    RunRequestSerializer,
    dry_run_as_dict,
)
from recoup.core.errors import DomainError
from recoup.dunning import policies, selectors, services, tasks
from recoup.dunning.models import DunningHold, DunningPolicy, MessageItem
from recoup.users.models import MANAGE_ROLES, READ_ROLES, WRITE_ROLES

log = logging.getLogger(__name__)


class DunningViewSet(viewsets.GenericViewSet):
    """Every role reads; managers and admins write, unless a viewset says otherwise."""

    read_roles = READ_ROLES
    write_roles = MANAGE_ROLES
    parser_classes = [DecimalJSONParser]
    pagination_class = Pagination
    lookup_value_regex = r"[0-9]{1,18}"


def deliver_due_messages() -> None:
    """After a run (or a retry), deliver as `recoup dunning run` does: in the embedded mode send what is due
    now, in-process; with workers, hand it to them. A failure here loses nothing: the messages stay in the
    outbox, where the next dispatch (every minute) or `recoup dunning send` finds them."""
    try:
        tasks.send_due()
    except Exception:
        log.exception("dunning: delivery after an API request failed; the outbox keeps the messages")


# Policies ---------------------------------------------------------------------------------------------------


class DunningPolicyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DunningViewSet):
    """Dunning policies in the shape of the policy files (`recoup dunning policy export`), plus their id.

    POST creates a policy and PUT replaces one, from that same shape; DELETE removes a policy nothing uses.
    """

    serializer_class = DunningPolicySerializer
    filterset_class = DunningPolicyFilter
    parser_classes = [PolicyJSONParser]
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at", "id"]
    ordering = ["name"]

    def get_queryset(self) -> QuerySet[DunningPolicy]:
        return selectors.with_levels(DunningPolicy.objects.all())

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response([_as_dict(policy) for policy in page or []])

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(_as_dict(self.get_object()))

    @extend_schema(request=DunningPolicySerializer, responses={201: DunningPolicySerializer})
    def create(self, request: Request) -> Response:
        """Create a policy from the policy file's shape. A name already taken is refused: PUT changes it."""
        spec = policy_spec(request.data)
        with transaction.atomic():
            taken = DunningPolicy.objects.filter(name=spec.name).first()
            if taken is None:
                policy, created = services.policy_save(actor=request.user, spec=spec)
                taken = None if created else policy  # created meanwhile: what policy_save did rolls back
            if taken is not None:
                raise DomainError(
                    f"A policy named {spec.name!r} already exists; PUT /api/v1/dunning-policies/{taken.pk}/ "
                    "changes it.",
                    field="name",
                )
        return Response(_as_dict(policy), status=status.HTTP_201_CREATED)

    @extend_schema(request=DunningPolicySerializer, responses={200: DunningPolicySerializer})
    def update(self, request: Request, pk: str | None = None) -> Response:
        """Make the policy match the body, level by level; a policy keeps its name."""
        policy = self.get_object()
        spec = policy_spec(request.data)
        if spec.name != policy.name:
            raise DomainError(
                f"A policy keeps its name: send {policy.name!r}, or create a policy named {spec.name!r}.",
                field="name",
            )
        policy, _ = services.policy_save(actor=request.user, spec=spec)
        return Response(_as_dict(policy))

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        """Delete a policy that is not the default, not assigned and has no dunning history."""
        services.policy_delete(actor=request.user, policy=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


def _as_dict(policy: DunningPolicy) -> dict[str, Any]:
    return {"id": policy.pk, **policies.policy_as_dict(policy)}


def policy_spec(data: Any) -> policies.PolicySpec:
    """A request body as a checked policy. `id` is read-only and ignored. parse_policy names the key at fault
    in its message; "file", which it gives where the key is the message's own, is no field of a request."""
    if isinstance(data, dict):
        data = {key: value for key, value in data.items() if key != "id"}
    try:
        return policies.parse_policy(data, source="The policy")
    except DomainError as exc:
        if exc.field == "file":
            raise DomainError(exc.message, code=exc.code) from exc
        raise


# Runs -------------------------------------------------------------------------------------------------------


class DunningRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DunningViewSet):
    """Dunning runs with their reports. POST starts one (managers and admins)."""

    serializer_class = DunningRunSerializer
    filterset_class = DunningRunFilter
    ordering_fields = ["as_of", "started_at", "id"]
    ordering = ["-as_of", "-id"]

    def get_queryset(self) -> QuerySet[Any]:
        return selectors.run_list()

    @extend_schema(
        request=RunRequestSerializer,
        responses={
            201: OpenApiResponse(DunningRunSerializer, description="The run, written; delivery has begun."),
            200: OpenApiResponse(
                DryRunSerializer, description="A dry run: the report, and what would go out."
            ),
        },
    )
    def create(self, request: Request) -> Response:
        """Run dunning as of a date: move invoices up their levels and queue one message per customer and
        channel, then deliver. A dry run plans the same and stores nothing (200)."""
        params = RunRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        result = services.dunning_run(actor=request.user, **params.validated_data)
        if result.run is None:
            return Response(DryRunSerializer(dry_run_as_dict(result)).data)
        transaction.on_commit(deliver_due_messages)
        run = self.get_queryset().get(pk=result.run.pk)
        return Response(DunningRunSerializer(run).data, status=status.HTTP_201_CREATED)


# The outbox -------------------------------------------------------------------------------------------------


class OutboundMessageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DunningViewSet):
    """The outbox: every message dunning wrote, with the invoices it lists. A message's bodies are in its
    detail. A failed message can be retried (managers and admins)."""

    filterset_class = OutboundMessageFilter
    ordering_fields = ["as_of", "send_at", "sent_at", "id"]
    ordering = ["-as_of", "-id"]

    def get_queryset(self) -> QuerySet[Any]:
        items = MessageItem.objects.select_related("invoice", "level").order_by("id")
        return selectors.outbox().prefetch_related(Prefetch("items", queryset=items), "invoices")

    def get_serializer_class(self) -> type[BaseSerializer]:
        return OutboundMessageSerializer if self.action == "list" else OutboundMessageDetailSerializer

    @extend_schema(request=None, responses={200: OutboundMessageDetailSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        """Put a failed message back in the queue, due now with a fresh count of attempts, and deliver."""
        message = services.message_retry(actor=request.user, message=self.get_object())
        transaction.on_commit(deliver_due_messages)
        return Response(OutboundMessageDetailSerializer(self.get_queryset().get(pk=message.pk)).data)


# Holds ------------------------------------------------------------------------------------------------------


class DunningHoldViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, DunningViewSet
):
    """Pauses of dunning for a customer, or for one of its invoices, until a date or until released.
    Collectors and resolvers may set and release them too."""

    write_roles = WRITE_ROLES
    serializer_class = DunningHoldSerializer
    filterset_class = DunningHoldFilter
    ordering_fields = ["created_at", "until", "id"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self) -> QuerySet[DunningHold]:
        return DunningHold.objects.select_related("customer", "invoice", "created_by")

    @extend_schema(request=None, responses={200: DunningHoldSerializer})
    @action(detail=True, methods=["post"])
    def release(self, request: Request, pk: str | None = None) -> Response:
        """End the hold now; dunning resumes with the next run."""
        hold = services.hold_release(actor=request.user, hold=self.get_object())
        return Response(DunningHoldSerializer(self.get_queryset().get(pk=hold.pk)).data)
