"""Invoices, payments and credit notes: created (one by one or in bulk) and read; never deleted."""

from __future__ import annotations

from django.db.models import Model, Prefetch, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from recoup.api.filters import CreditNoteFilter, InvoiceFilter, PaymentFilter
from recoup.api.serializers.documents import (
    CreditNoteSerializer,
    InvoicePolicySerializer,
    InvoiceSerializer,
    PaymentSerializer,
)
from recoup.api.serializers.dunning import AsOfParamsSerializer, InvoiceDunningSerializer, dunning_status
from recoup.api.views.base import LedgerViewSet
from recoup.api.views.bulk import BULK_LIMIT, BulkErrorSerializer, BulkResultSerializer, bulk_create
from recoup.dunning import selectors as dunning_selectors
from recoup.ledger import services
from recoup.ledger.models import Allocation, CreditNote, Customer, Invoice, Payment

BULK_DOC = (
    f"Create up to {BULK_LIMIT} items from a JSON list, all or nothing: if any item is invalid the answer is "
    '400 with the errors keyed by item index and field, e.g. {"errors": {"3": {"due_date": ["..."]}}}, '
    "and nothing is written."
)


class DocumentViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, LedgerViewSet
):
    """Ledger documents are facts: no PUT, PATCH or DELETE (405). Correct them with allocations."""

    ordering = ["date", "id"]


class InvoiceViewSet(DocumentViewSet):
    """Invoices. `status=open`: something is left to collect; `overdue=true`: open and past due.

    PATCH changes an invoice's dunning policy and nothing else (no PUT, no DELETE).
    """

    serializer_class = InvoiceSerializer
    filterset_class = InvoiceFilter
    search_fields = ["external_id", "customer__name", "customer__external_id"]
    ordering_fields = ["due_date", "issue_date", "amount", "open_amount", "external_id", "created_at", "id"]
    ordering = ["due_date", "id"]

    def get_queryset(self) -> QuerySet[Invoice]:
        return Invoice.objects.select_related("customer", "dunning_policy")

    @extend_schema(
        request=InvoicePolicySerializer,
        responses={200: InvoiceSerializer},
        description="Set or clear the invoice's own dunning policy. Any other field is refused with a 400 "
        "naming it: amounts and dates are ledger facts.",
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        invoice = self.get_object()
        params = InvoicePolicySerializer(data=request.data, context=self.get_serializer_context())
        params.is_valid(raise_exception=True)
        services.invoice_set_dunning_policy(
            actor=request.user, invoice=invoice, dunning_policy=params.validated_data["dunning_policy"]
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=invoice.pk)).data)

    @extend_schema(parameters=[AsOfParamsSerializer], responses={200: InvoiceDunningSerializer})
    @action(detail=True, methods=["get"])
    def dunning(self, request: Request, pk: str | None = None) -> Response:
        """Where the invoice stands in dunning as of a date (default today), and why it is or is not dunned:
        the same planning a run does, for this invoice's customer only."""
        invoice = self.get_object()
        params = AsOfParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        as_of = params.validated_data["as_of"]
        found = dunning_selectors.invoice_dunning_status(invoice=invoice, as_of=as_of)
        return Response(InvoiceDunningSerializer(dunning_status(invoice, as_of, found)).data)

    @extend_schema(
        request=InvoiceSerializer(many=True),
        responses={201: BulkResultSerializer, 400: BulkErrorSerializer},
        description=BULK_DOC,
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        return bulk_create(request, InvoiceSerializer, references={Customer: ("customer",)})


class CustomerCreditViewSet(DocumentViewSet):
    # What payments and credit notes share: each row lists the allocations that apply it.

    model: type[Payment] | type[CreditNote]
    ordering_fields = ["date", "amount", "unapplied_amount", "external_id", "created_at", "id"]

    def get_queryset(self) -> QuerySet[Payment] | QuerySet[CreditNote]:
        allocations = Allocation.objects.select_related("invoice").order_by("date", "id")
        return self.model.objects.select_related("customer").prefetch_related(
            Prefetch("allocations", queryset=allocations)
        )


class PaymentViewSet(CustomerCreditViewSet):
    """Payments received. Name invoices with `invoice` or `allocations` to apply the payment to them."""

    model = Payment
    serializer_class = PaymentSerializer
    filterset_class = PaymentFilter
    search_fields = ["external_id", "reference", "customer__name", "customer__external_id"]

    @extend_schema(
        request=PaymentSerializer(many=True),
        responses={201: BulkResultSerializer, 400: OpenApiResponse(BulkErrorSerializer)},
        description=BULK_DOC,
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        references: dict[type[Model], tuple[str, ...]] = {
            Customer: ("customer",),
            Invoice: ("invoice", "allocations.invoice"),
        }
        return bulk_create(request, PaymentSerializer, references=references)


class CreditNoteViewSet(CustomerCreditViewSet):
    """Credit notes. Name invoices with `invoice` or `allocations` to apply the note to them."""

    model = CreditNote
    serializer_class = CreditNoteSerializer
    filterset_class = CreditNoteFilter
    search_fields = ["external_id", "reason", "customer__name", "customer__external_id"]
