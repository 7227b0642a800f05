"""Inbound email: what the IMAP poller stored, newest first, with the actions assign and ignore and the
attachments' downloads.

Every role reads; collectors, managers and admins assign and ignore (recoup.activity.services.INBOUND_ROLES),
and the service checks again. No POST on the list, and no PUT, PATCH or DELETE (405): email arrives only
from the mailbox.
"""

from __future__ import annotations

from typing import Any

import django_filters as filters
from django.db.models import Count, QuerySet
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from recoup.activity.models import InboundAttachment, InboundEmail, InboundStatus
from recoup.activity.services import INBOUND_ROLES, inbound_assign, inbound_ignore
from recoup.activity.views.inbound import attachment_response
from recoup.api.fields import is_external_id
from recoup.api.pagination import Pagination
from recoup.api.parsers import DecimalJSONParser
from recoup.api.serializers.inbound import (
    InboundAssignSerializer,
    InboundEmailDetailSerializer,
    InboundEmailSerializer,
)
from recoup.users.models import READ_ROLES


class InboundEmailFilter(filters.FilterSet):
    status = filters.ChoiceFilter(
        choices=InboundStatus.choices, help_text="unmatched, matched, assigned or ignored."
    )
    customer = filters.CharFilter(method="filter_customer", help_text="The customer's external id.")
    is_auto_reply = filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="filter_auto_reply",
        help_text="true: only automatic replies; false: none of them.",
    )

    class Meta:
        model = InboundEmail
        fields: list[str] = []

    def filter_auto_reply(
        self, queryset: QuerySet[InboundEmail], name: str, value: str
    ) -> QuerySet[InboundEmail]:
        return queryset.filter(is_auto_reply=value == "true")

    def filter_customer(
        self, queryset: QuerySet[InboundEmail], name: str, value: str
    ) -> QuerySet[InboundEmail]:
        if not is_external_id(value):
            return queryset.none()
        return queryset.filter(customer__external_id=value)


class InboundEmailViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Email that arrived in the collections mailbox, newest first: matched to a customer (by the email it
    answers, the sender's address or domain, or the invoice numbers it names), assigned or ignored by a
    person, or waiting unmatched. An automatic reply is marked `is_auto_reply` and never counts as the
    customer answering."""

    read_roles = READ_ROLES
    write_roles = INBOUND_ROLES
    parser_classes = [DecimalJSONParser]
    pagination_class = Pagination
    lookup_value_regex = r"[0-9]{1,18}"
    filterset_class = InboundEmailFilter
    ordering_fields = ["received_at", "sent_at", "id"]
    ordering = ["-received_at", "-id"]
    search_fields = ["subject", "from_address", "from_name"]

    def get_queryset(self) -> QuerySet[InboundEmail]:
        emails = InboundEmail.objects.select_related("customer", "assigned_by").prefetch_related("invoices")
        emails = emails.annotate(attachment_count=Count("attachments"))
        if self.action == "retrieve":
            emails = emails.prefetch_related("attachments")
        return emails

    def get_serializer_class(self) -> type[BaseSerializer]:
        return InboundEmailSerializer if self.action == "list" else InboundEmailDetailSerializer

    def _detail(self, email: InboundEmail) -> Response:
        fresh = self.get_queryset().prefetch_related("attachments").get(pk=email.pk)
        return Response(InboundEmailDetailSerializer(fresh, context=self.get_serializer_context()).data)

    @extend_schema(request=InboundAssignSerializer, responses={200: InboundEmailDetailSerializer})
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str | None = None) -> Response:
        """File the email under a customer, with the customer's invoices it concerns. It goes on (or moves
        to) that customer's timeline; status becomes assigned, matched_by manual."""
        email = self.get_object()
        params = InboundAssignSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        return self._detail(inbound_assign(actor=request.user, email=email, **params.validated_data))

    @extend_schema(
        request=None,
        responses={
            200: InboundEmailDetailSerializer,
            400: OpenApiResponse(description="The email is ignored already (on `status`)."),
        },
    )
    @action(detail=True, methods=["post"])
    def ignore(self, request: Request, pk: str | None = None) -> Response:
        """Take the email out of the queue, and off any timeline."""
        return self._detail(inbound_ignore(actor=request.user, email=self.get_object()))

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(
        detail=True,
        methods=["get"],
        url_path=r"attachments/(?P<attachment_pk>[0-9]{1,18})",
        url_name="attachment",
        filter_backends=[],
        pagination_class=None,
    )
    def attachment(self, request: Request, pk: str | None = None, attachment_pk: str | None = None) -> Any:
        """An attachment's bytes, as a download (application/octet-stream, whatever the sender declared)."""
        email = self.get_object()
        found = get_object_or_404(InboundAttachment, pk=attachment_pk, email=email)
        response: FileResponse = attachment_response(found)
        return response
