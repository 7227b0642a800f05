"""Disputes: reasons, the disputes a user may see, the actions on one, and the dispute figures.

Every role reads. Managers and admins change reasons. On disputes, each action lets in the roles that
recoup.disputes.rules allows it (a collector opens, comments and attaches; a resolver comments, attaches,
assigns, reviews and resolves on their team's disputes; writing off needs a manager); the services check
again. A resolver sees only the disputes they or their team own: any other is a 404 to them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Count, IntegerField, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from recoup.api.filters import DisputeFilter, DisputeReasonFilter
from recoup.api.pagination import Pagination
from recoup.api.parsers import DecimalJSONParser
from recoup.api.serializers.disputes import (
    DisputeAssignSerializer,
    DisputeAttachSerializer,
    DisputeCommentRequestSerializer,
    DisputeCommentSerializer,
    DisputeDetailSerializer,
    DisputeDocumentSerializer,
    DisputeMetricsParamsSerializer,
    DisputeMetricsSerializer,
    DisputeNoteSerializer,
    DisputeOpenSerializer,
    DisputeReasonSerializer,
    DisputeResolveSerializer,
    DisputeSerializer,
)
from recoup.core.errors import DomainError
from recoup.disputes import rules, selectors, services
from recoup.disputes.models import (
    Dispute,
    DisputeComment,
    DisputeDocument,
    DisputeReason,
    DisputeStatusChange,
    Outcome,
)
from recoup.disputes.rules import Action
from recoup.users.models import MANAGE_ROLES, READ_ROLES, WRITE_ROLES
from recoup.users.permissions import RolePermission


def roles_for(action: Action) -> frozenset[str]:
    """The roles rules.ALLOWED lets take `action`."""
    return frozenset(role for role, actions in rules.ALLOWED.items() if action in actions)


# The viewset's actions and what each one is in rules.Action.
ACTIONS = {
    "create": Action.OPEN,
    "assign": Action.ASSIGN,
    "review": Action.REVIEW,
    "comment": Action.COMMENT,
    "attach": Action.ATTACH,
    "resolve": Action.RESOLVE,
}
WRITE_OFF_REFUSED = "Writing a dispute off needs a manager."
FORM_OVERHEAD = 64 * 1024  # a multipart body's boundaries and part headers, generously
# What selectors.disputes_for joins, for reading a dispute again after a write.
DETAIL_JOINS = ("invoice", "invoice__customer", "reason", "owner", "team")


class DisputeReasonViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Dispute reason codes, each with its SLA and default team. Every role reads; managers and admins
    create and change them. No DELETE (405): a reason disputes used stays; set `is_active` false instead."""

    read_roles = READ_ROLES
    write_roles = MANAGE_ROLES
    parser_classes = [DecimalJSONParser]
    pagination_class = Pagination
    lookup_value_regex = r"[0-9]{1,18}"
    serializer_class = DisputeReasonSerializer
    filterset_class = DisputeReasonFilter
    ordering_fields = ["position", "name", "code", "sla_days", "id"]
    ordering = ["position", "name"]

    def get_queryset(self) -> QuerySet[DisputeReason]:
        return DisputeReason.objects.all()


def _count(model: type[DisputeComment] | type[DisputeDocument]) -> Coalesce:
    rows = model.objects.filter(dispute=OuterRef("pk")).order_by().values("dispute")
    return Coalesce(Subquery(rows.annotate(n=Count("pk")).values("n")), 0, output_field=IntegerField())


def with_rows(disputes: QuerySet[Dispute]) -> QuerySet[Dispute]:
    """What a row shows beyond what the selector joins: the credit note, the author, the counts."""
    return disputes.select_related("credit_note", "created_by").annotate(
        comments_count=_count(DisputeComment), documents_count=_count(DisputeDocument)
    )


def with_story(disputes: QuerySet[Dispute]) -> QuerySet[Dispute]:
    """A dispute's history, comments and documents, oldest first (three queries, however many disputes)."""
    return with_rows(disputes).prefetch_related(
        Prefetch("status_changes", queryset=DisputeStatusChange.objects.select_related("changed_by")),
        Prefetch("comments", queryset=DisputeComment.objects.select_related("author")),
        Prefetch("documents", queryset=DisputeDocument.objects.select_related("uploaded_by")),
    )


def refuse_oversized(request: Request) -> None:
    """Refuse, before reading it, a body too large to hold an acceptable document: the other fields of a
    form are capped by DATA_UPLOAD_MAX_MEMORY_SIZE, so the file in it is past the limit. A smaller body is
    read, and the service checks the file's own size."""
    limit = settings.RECOUP_DISPUTE_UPLOAD_MAX_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return  # the parser refuses a body it cannot read
    if length > limit + (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440) + FORM_OVERHEAD:
        raise DomainError(
            f"The upload is {length:,} bytes; a document is at most {limit:,} bytes.", field="file"
        )


class DisputeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Disputes, oldest first: only those the user may see (a resolver: theirs and their team's). The list
    counts comments and documents; the detail lists them with the status history. POST opens one; the
    actions assign, review, comment, attach and resolve. No PUT, PATCH or DELETE (405)."""

    read_roles = READ_ROLES
    parser_classes = [DecimalJSONParser]
    pagination_class = Pagination
    lookup_value_regex = r"[0-9]{1,18}"
    filterset_class = DisputeFilter
    ordering_fields = ["opened_on", "sla_due_on", "resolved_on", "amount", "id"]
    ordering = ["opened_on", "id"]

    @property
    def write_roles(self) -> frozenset[str]:
        """RolePermission's set for the action requested; a method nothing serves (405) needs a writer."""
        act = ACTIONS.get(self.action or "")
        return roles_for(act) if act is not None else WRITE_ROLES

    def get_queryset(self) -> QuerySet[Dispute]:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular, generating the schema
            return Dispute.objects.none()
        visible = selectors.disputes_for(self.request.user)
        if self.action == "list":
            return with_rows(visible)
        if self.action == "retrieve":
            return with_story(visible)
        return visible  # an action: the dispute to act on; the answer is read again after it

    def get_serializer_class(self) -> type[BaseSerializer]:
        return DisputeSerializer if self.action == "list" else DisputeDetailSerializer

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "today": timezone.localdate()}

    def _acting_on(self, act: Action) -> Dispute:
        """The dispute in the URL, if the user may see it (else 404) and take `act` on it (else 403)."""
        dispute = self.get_object()
        self._check(act, dispute)
        return dispute

    def _check(self, act: Action, dispute: Dispute) -> None:
        if not services.can(self.request.user, act, dispute):
            raise PermissionDenied(WRITE_OFF_REFUSED if act == Action.WRITE_OFF else RolePermission.message)

    def _detail(self, dispute: Dispute, code: int = status.HTTP_200_OK) -> Response:
        # Read again without the user's scope: a resolver who gives a dispute away still gets the answer.
        fresh = with_story(Dispute.objects.select_related(*DETAIL_JOINS)).get(pk=dispute.pk)
        return Response(DisputeDetailSerializer(fresh, context=self.get_serializer_context()).data, code)

    @extend_schema(request=DisputeOpenSerializer, responses={201: DisputeDetailSerializer})
    def create(self, request: Request) -> Response:
        """Open a dispute on an invoice, for all of it that is open and not yet disputed or for `amount`.
        Together an invoice's active disputes never exceed its open amount (400 on `amount`, naming it)."""
        params = DisputeOpenSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        dispute = services.dispute_open(actor=request.user, **params.validated_data)
        return self._detail(dispute, status.HTTP_201_CREATED)

    @extend_schema(request=DisputeAssignSerializer, responses={200: DisputeDetailSerializer})
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str | None = None) -> Response:
        """Give the dispute to a person, a team, or a person in a team (default: the person's own team).
        The new owners get an email."""
        dispute = self._acting_on(Action.ASSIGN)
        params = DisputeAssignSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        return self._detail(
            services.dispute_assign(actor=request.user, dispute=dispute, **params.validated_data)
        )

    @extend_schema(request=DisputeNoteSerializer, responses={200: DisputeDetailSerializer})
    @action(detail=True, methods=["post"])
    def review(self, request: Request, pk: str | None = None) -> Response:
        """open → in review, with an optional note on the history."""
        dispute = self._acting_on(Action.REVIEW)
        params = DisputeNoteSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        return self._detail(
            services.dispute_review(actor=request.user, dispute=dispute, **params.validated_data)
        )

    @extend_schema(request=DisputeCommentRequestSerializer, responses={201: DisputeCommentSerializer})
    @action(detail=True, methods=["post"])
    def comment(self, request: Request, pk: str | None = None) -> Response:
        """Add a comment; the owners and the customer's collector get it by email."""
        dispute = self._acting_on(Action.COMMENT)
        params = DisputeCommentRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        comment = services.dispute_comment(actor=request.user, dispute=dispute, **params.validated_data)
        return Response(DisputeCommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request={"multipart/form-data": DisputeAttachSerializer},
        responses={201: DisputeDocumentSerializer},
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def attach(self, request: Request, pk: str | None = None) -> Response:
        """Upload a document (multipart, field `file`). Too large, empty, or not of an accepted kind (the
        name tells the kind, and the content must match it) is a 400 on `file`."""
        dispute = self._acting_on(Action.ATTACH)
        refuse_oversized(request)
        params = DisputeAttachSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        upload = params.validated_data["file"]
        document = services.dispute_attach(actor=request.user, dispute=dispute, upload=upload)
        data = DisputeDocumentSerializer(document, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=DisputeResolveSerializer,
        responses={
            200: DisputeDetailSerializer,
            403: OpenApiResponse(description="written_off by someone who is not a manager or admin."),
        },
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str | None = None) -> Response:
        """Close the dispute with its outcome. credit_note issues a credit note and allocates it to the
        invoice; written_off (managers and admins) writes the amount off; rejected and customer_paid change
        nothing in the ledger. Dunning takes up what is still open again."""
        dispute = self._acting_on(Action.RESOLVE)
        if isinstance(request.data, dict) and request.data.get("outcome") == Outcome.WRITTEN_OFF:
            self._check(Action.WRITE_OFF, dispute)  # 403 before any other check: not their outcome
        params = DisputeResolveSerializer(data=request.data, context={"dispute": dispute})
        params.is_valid(raise_exception=True)
        resolved = services.dispute_resolve(actor=request.user, dispute=dispute, **params.validated_data)
        return self._detail(resolved)


class DisputeMetricsView(APIView):
    """The dispute figures: cycle time (mean, median) and SLA hit rate of the disputes resolved in the
    period; the disputes open on `as_of` by reason and by age; and the share of AR overdue on `as_of` that
    is under dispute. A resolver's figures cover the disputes they see."""

    read_roles = READ_ROLES

    @extend_schema(parameters=[DisputeMetricsParamsSerializer], responses={200: DisputeMetricsSerializer})
    def get(self, request: Request) -> Response:
        params = DisputeMetricsParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        metrics = selectors.dispute_metrics(user=request.user, **params.validated_data)
        return Response(metrics.as_dict())
