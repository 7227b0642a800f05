"""The collector workspace through the API: a customer's merged timeline (read-only, keyset-paged), calls
(a call may record a promise), notes, the templates of emails sent by hand, and sending one.

Every role reads. Collectors, managers and admins log calls and send emails; every role that writes may add
a note (a dispute resolver leaves notes too). Refusals are 400s naming their field, never 500s.
"""

from __future__ import annotations

from typing import Any

import django_filters as filters
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer, ValidationError
from rest_framework.views import APIView

from recoup.activity.models import Call, CallOutcome, Note
from recoup.activity.services import call_log, note_add
from recoup.activity.timeline import customer_activity
from recoup.api.filters import IdFilter
from recoup.api.pagination import Pagination
from recoup.api.parsers import DecimalJSONParser
from recoup.api.serializers.activity import (
    ActivityPageSerializer,
    ActivityParamsSerializer,
    ActivitySerializer,
    CallCreateSerializer,
    CallSerializer,
    EmailSendSerializer,
    MessageTemplateSerializer,
    NoteCreateSerializer,
    NoteSerializer,
)
from recoup.api.serializers.dunning import OutboundMessageDetailSerializer
from recoup.core.errors import DomainError
from recoup.dunning import selectors as dunning_selectors
from recoup.dunning.manual import email_send
from recoup.dunning.models import MessageItem, MessageTemplate
from recoup.ledger.models import Invoice
from recoup.users.models import COLLECT_ROLES, READ_ROLES, WRITE_ROLES

INVOICE_NUMBERS = Prefetch("invoices", queryset=Invoice.objects.only("id", "external_id").order_by("id"))
PROMISE_FIELDS = {"amount", "currency", "tolerance_percent"}  # what promise_create names, under "promise"


class ActivityView(APIView):
    """One customer's timeline, newest first: emails out and in, calls, notes, letters, promises, dispute
    and task events from the stored entries, with payments and credit notes read from the ledger (each with
    the invoices it settled, reversed applications marked). `customer` (or `customer_id`) is required.
    Keyset pages: follow `next`, which stays right however much is added meanwhile."""

    read_roles = READ_ROLES

    @extend_schema(parameters=[ActivityParamsSerializer], responses={200: ActivityPageSerializer})
    def get(self, request: Request) -> Response:
        params = ActivityParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        page = customer_activity(
            customer=data["customer"],
            kinds=data.get("kind", ()),
            invoice=data.get("invoice"),
            before=data.get("before"),
            limit=data["page_size"],
        )
        following = None
        if page.next_cursor:
            query = request.query_params.copy()
            query["before"] = page.next_cursor
            following = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        return Response({"next": following, "results": ActivitySerializer(page.items, many=True).data})


class CallFilter(filters.FilterSet):
    customer = filters.CharFilter(field_name="customer__external_id", help_text="The customer's external id.")
    customer_id = IdFilter()
    outcome = filters.ChoiceFilter(choices=CallOutcome.choices)
    called_after = filters.IsoDateTimeFilter(
        field_name="called_at", lookup_expr="gte", help_text="Inclusive."
    )
    called_before = filters.IsoDateTimeFilter(
        field_name="called_at", lookup_expr="lt", help_text="Exclusive."
    )

    class Meta:
        model = Call
        fields: list[str] = []


class NoteFilter(filters.FilterSet):
    customer = filters.CharFilter(field_name="customer__external_id", help_text="The customer's external id.")
    customer_id = IdFilter()
    mentions = filters.CharFilter(
        field_name="mentions__username", help_text="Notes that mention this username."
    )

    class Meta:
        model = Note
        fields: list[str] = []


class _WorkspaceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    read_roles = READ_ROLES
    parser_classes = [DecimalJSONParser]
    pagination_class = Pagination
    lookup_value_regex = r"[0-9]{1,18}"


class CallViewSet(mixins.CreateModelMixin, _WorkspaceViewSet):
    """Calls, newest first. POST logs one: its outcome, duration and notes, the invoices discussed, the task
    it completes and a promise to pay made on it (which needs an outcome of `reached`)."""

    write_roles = COLLECT_ROLES
    filterset_class = CallFilter
    ordering_fields = ["called_at", "id"]
    ordering = ["-called_at", "-id"]

    def get_queryset(self) -> QuerySet[Call]:
        return Call.objects.select_related("customer", "actor", "promise").prefetch_related(INVOICE_NUMBERS)

    def get_serializer_class(self) -> type[BaseSerializer]:
        return CallCreateSerializer if self.action == "create" else CallSerializer

    @extend_schema(request=CallCreateSerializer, responses={201: CallSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        params = CallCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            call = call_log(actor=request.user, **params.validated_data)
        except DomainError as refused:
            if params.validated_data.get("promise") and refused.field in PROMISE_FIELDS:
                raise ValidationError({"promise": {refused.field: [refused.message]}}) from refused
            raise
        return Response(
            CallSerializer(self.get_queryset().get(pk=call.pk)).data, status=status.HTTP_201_CREATED
        )


class NoteViewSet(mixins.CreateModelMixin, _WorkspaceViewSet):
    """Notes, newest first, with the users they mention. POST adds one; each user it mentions (@username) is
    told by email, once."""

    write_roles = WRITE_ROLES
    filterset_class = NoteFilter
    ordering_fields = ["created_at", "id"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self) -> QuerySet[Note]:
        return Note.objects.select_related("customer", "author").prefetch_related(INVOICE_NUMBERS, "mentions")

    def get_serializer_class(self) -> type[BaseSerializer]:
        return NoteCreateSerializer if self.action == "create" else NoteSerializer

    @extend_schema(request=NoteCreateSerializer, responses={201: NoteSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        params = NoteCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        note = note_add(actor=request.user, **params.validated_data)
        return Response(
            NoteSerializer(self.get_queryset().get(pk=note.pk)).data, status=status.HTTP_201_CREATED
        )


class MessageTemplateViewSet(_WorkspaceViewSet):
    """The templates of emails sent by hand (Settings → Email templates; managers change them there)."""

    serializer_class = MessageTemplateSerializer
    ordering_fields = ["name", "id"]
    ordering = ["name", "language"]

    def get_queryset(self) -> QuerySet[MessageTemplate]:
        return MessageTemplate.objects.all()


class EmailSendView(APIView):
    """Send an email from a template to a customer, through the dunning outbox: rendered now, sent by the
    same path as reminders (retries, Message-ID), and on the timeline once sent. 201 with the outbox message;
    a repeat with the same `request_key` is a 200 with the message the first request queued."""

    read_roles = COLLECT_ROLES
    write_roles = COLLECT_ROLES
    parser_classes = [DecimalJSONParser]

    @extend_schema(
        request=EmailSendSerializer,
        responses={
            201: OpenApiResponse(
                OutboundMessageDetailSerializer, description="Queued (sent, in embedded mode)."
            ),
            200: OpenApiResponse(OutboundMessageDetailSerializer, description="The same request_key again."),
        },
        parameters=[OpenApiParameter("format", exclude=True)],
    )
    def post(self, request: Request) -> Response:
        params = EmailSendSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        message, created = email_send(actor=request.user, **params.validated_data)
        items = MessageItem.objects.select_related("invoice", "level").order_by("id")
        fresh = (
            dunning_selectors.outbox()
            .prefetch_related(Prefetch("items", queryset=items), "invoices")
            .get(pk=message.pk)
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(OutboundMessageDetailSerializer(fresh).data, status=code)
