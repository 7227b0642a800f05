"""Allocations (append-only: create and reverse, never edit or delete) and FX rates."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from recoup.api.filters import AllocationFilter, FxRateFilter
from recoup.api.serializers.allocations import AllocationSerializer, FxRateSerializer, ReversalSerializer
from recoup.api.views.base import LedgerViewSet
from recoup.ledger import services
from recoup.ledger.models import Allocation, AllocationKind, FxRate
from recoup.users.models import MANAGE_ROLES
from recoup.users.permissions import user_has_role


def _check_write_off_role(request: Request, kind: str) -> None:
    if kind == AllocationKind.WRITE_OFF and not user_has_role(request.user, MANAGE_ROLES):
        raise PermissionDenied("Only managers and admins write invoices off.")


class AllocationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, LedgerViewSet
):
    """Applications of payments, credit notes and write-offs to invoices.

    Append-only: no PUT, PATCH or DELETE. Undo one with POST /allocations/{id}/reverse/, which adds a negated
    row. Write-offs (and their reversals) need a manager or admin.
    """

    serializer_class = AllocationSerializer
    filterset_class = AllocationFilter
    ordering_fields = ["date", "amount", "created_at", "id"]
    ordering = ["date", "id"]

    def get_queryset(self) -> QuerySet[Allocation]:
        return Allocation.objects.select_related(
            "invoice", "payment", "credit_note", "created_by", "reversed_by"
        )

    def perform_create(self, serializer: BaseSerializer) -> None:
        _check_write_off_role(self.request, serializer.validated_data["kind"])
        serializer.save()

    @extend_schema(request=ReversalSerializer, responses={201: AllocationSerializer})
    @action(detail=True, methods=["post"])
    def reverse(self, request: Request, pk: str | None = None) -> Response:
        """Reverse this allocation with a new, negated row; the original is never touched."""
        allocation = self.get_object()
        _check_write_off_role(request, allocation.kind)
        params = ReversalSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        reversal = services.allocation_reverse(
            actor=request.user, allocation=allocation, **params.validated_data
        )
        reversal = self.get_queryset().get(pk=reversal.pk)
        return Response(AllocationSerializer(reversal).data, status=status.HTTP_201_CREATED)


class FxRateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, LedgerViewSet):
    """FX rates into the base currency by date. POSTing a currency and date that exist replaces the rate."""

    serializer_class = FxRateSerializer
    filterset_class = FxRateFilter
    ordering_fields = ["currency", "date", "id"]
    ordering = ["currency", "-date"]
    queryset = FxRate.objects.all()
