"""Tasks and promises to pay: lists with filters, one by id, creating, the actions on them, and the promise
kept rate per collector and overall.

Every role reads. Writes need a role that works (admin, manager, collector, resolver); then the services
decide on each row: collectors and resolvers act on their own tasks (and on unowned ones left for their
role), managers and admins on all; a promise is cancelled by its maker, its owner or a manager. What they
refuse is a 403 and writes nothing; a bulk action changes every task or none.
"""

from __future__ import annotations

from typing import Any

import django_filters as filters
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from recoup.activity import promise_services, services, task_services
from recoup.activity.models import Promise, PromiseStatus, Task, TaskKind, TaskStatus
from recoup.activity.worklist import TASK_SCOPES, promise_kept_rate, task_scope_q
from recoup.api.pagination import Pagination
from recoup.api.parsers import DecimalJSONParser
from recoup.api.serializers.activity_tasks import (
    KeptRateParamsSerializer,
    KeptRateSerializer,
    PromiseCancelSerializer,
    PromiseCreateSerializer,
    PromiseSerializer,
    TaskBulkResultSerializer,
    TaskBulkSerializer,
    TaskCreateSerializer,
    TaskReassignSerializer,
    TaskSerializer,
    TaskSnoozeSerializer,
)
from recoup.ledger.models import Invoice
from recoup.users.models import READ_ROLES, WRITE_ROLES

DUE_FILTERS = ("overdue", "today", "later")
INVOICE_IDS = Prefetch("invoices", queryset=Invoice.objects.only("id", "external_id").order_by("id"))


class OwnerFilter(filters.CharFilter):
    """A user id, or `none` for the rows nobody owns; anything else is a 400."""

    def filter(self, qs: QuerySet[Any], value: str) -> QuerySet[Any]:
        if not value:
            return qs
        if value == "none":
            return qs.filter(owner__isnull=True)
        return qs.filter(owner_id=int(value))


def _owner_field() -> OwnerFilter:
    return OwnerFilter(
        field_name="owner",
        help_text="The owner's user id, or none.",
        validators=[_owner_value],
    )


def _owner_value(value: str) -> None:
    if value != "none" and not (value.isascii() and value.isdigit() and 0 < len(value) <= 18):
        raise ValidationError("Give a user id or none.")


class TaskFilter(filters.FilterSet):
    owner = _owner_field()
    status = filters.ChoiceFilter(choices=TaskStatus.choices)
    kind = filters.ChoiceFilter(choices=TaskKind.choices)
    customer = filters.CharFilter(field_name="customer__external_id", help_text="The customer's external id.")
    due = filters.ChoiceFilter(
        choices=[(d, d) for d in DUE_FILTERS],
        method="filter_due",
        help_text="Against today: overdue (before it), today, later (after it).",
    )
    due_before = filters.DateFilter(field_name="due_date", lookup_expr="lte", help_text="Due on or before.")
    due_after = filters.DateFilter(field_name="due_date", lookup_expr="gte", help_text="Due on or after.")
    scope = filters.ChoiceFilter(
        choices=[(s, s) for s in TASK_SCOPES],
        method="filter_scope",
        help_text="mine: yours, or unowned for your role; team: your team's; all (default).",
    )

    class Meta:
        model = Task
        fields: list[str] = []

    def filter_due(self, queryset: QuerySet[Task], name: str, value: str) -> QuerySet[Task]:
        today = timezone.localdate()
        lookup = {"overdue": "due_date__lt", "today": "due_date", "later": "due_date__gt"}[value]
        return queryset.filter(**{lookup: today})

    def filter_scope(self, queryset: QuerySet[Task], name: str, value: str) -> QuerySet[Task]:
        return (
            queryset.filter(task_scope_q(self.request.user, value)) if self.request is not None else queryset
        )


class TaskViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Tasks, by due date. POST makes one by hand; the actions complete, reassign and snooze one, and bulk
    does one of them to many (all or none). No PUT, PATCH or DELETE (405)."""

    read_roles = READ_ROLES
    write_roles = WRITE_ROLES
    parser_classes = [DecimalJSONParser]
    pagination_class = Pagination
    lookup_value_regex = r"[0-9]{1,18}"
    serializer_class = TaskSerializer
    filterset_class = TaskFilter
    ordering_fields = ["due_date", "created_at", "id"]
    ordering = ["due_date", "id"]

    def get_queryset(self) -> QuerySet[Task]:
        return Task.objects.select_related("customer", "owner", "rule").prefetch_related(INVOICE_IDS)

    def _fresh(self, task: Task, code: int = status.HTTP_200_OK) -> Response:
        return Response(TaskSerializer(self.get_queryset().get(pk=task.pk)).data, status=code)

    @extend_schema(request=TaskCreateSerializer, responses={201: TaskSerializer})
    def create(self, request: Request) -> Response:
        """A task by hand, for yourself by default; the owner must be someone who works."""
        params = TaskCreateSerializer(data=request.data, context={"request": request})
        params.is_valid(raise_exception=True)
        task = task_services.task_add(actor=request.user, **params.validated_data)
        return self._fresh(task, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: TaskSerializer})
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str | None = None) -> Response:
        task = services.task_complete(actor=request.user, task=self.get_object())
        return self._fresh(task)

    @extend_schema(request=TaskReassignSerializer, responses={200: TaskSerializer})
    @action(detail=True, methods=["post"])
    def reassign(self, request: Request, pk: str | None = None) -> Response:
        task = self.get_object()
        params = TaskReassignSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        return self._fresh(
            task_services.task_reassign(actor=request.user, task=task, **params.validated_data)
        )

    @extend_schema(request=TaskSnoozeSerializer, responses={200: TaskSerializer})
    @action(detail=True, methods=["post"])
    def snooze(self, request: Request, pk: str | None = None) -> Response:
        task = self.get_object()
        params = TaskSnoozeSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        done = task_services.task_snooze(
            actor=request.user,
            task=task,
            due_date=params.validated_data["due_date"],
            today=timezone.localdate(),
        )
        return self._fresh(done)

    @extend_schema(request=TaskBulkSerializer, responses={200: TaskBulkResultSerializer})
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        """complete, reassign (owner, role) or snooze (due_date) up to 500 tasks: every one must be open and
        yours to act on, or nothing changes."""
        params = TaskBulkSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        done = task_services.tasks_bulk(
            actor=request.user,
            action=data["action"],
            task_ids=data["tasks"],
            today=timezone.localdate(),
            owner=data.get("owner"),
            role=data["role"],
            due_date=data.get("due_date"),
        )
        fresh = self.get_queryset().filter(pk__in=[t.pk for t in done]).order_by("id")
        return Response({"action": data["action"], "tasks": TaskSerializer(fresh, many=True).data})


class PromiseFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=PromiseStatus.choices)
    customer = filters.CharFilter(field_name="customer__external_id", help_text="The customer's external id.")
    owner = _owner_field()
    due_before = filters.DateFilter(field_name="promised_date", lookup_expr="lte")
    due_after = filters.DateFilter(field_name="promised_date", lookup_expr="gte")

    class Meta:
        model = Promise
        fields: list[str] = []


class PromiseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Promises to pay, by promised date. POST records one (it pauses dunning on what it covers while
    pending); cancel withdraws a pending one; kept-rate gives kept ÷ come due, per collector and overall."""

    read_roles = READ_ROLES
    write_roles = WRITE_ROLES
    parser_classes = [DecimalJSONParser]
    pagination_class = Pagination
    lookup_value_regex = r"[0-9]{1,18}"
    serializer_class = PromiseSerializer
    filterset_class = PromiseFilter
    ordering_fields = ["promised_date", "created_at", "amount", "id"]
    ordering = ["promised_date", "id"]

    def get_queryset(self) -> QuerySet[Promise]:
        return Promise.objects.select_related("customer", "owner").prefetch_related(INVOICE_IDS)

    def _fresh(self, promise: Promise, code: int = status.HTTP_200_OK) -> Response:
        return Response(PromiseSerializer(self.get_queryset().get(pk=promise.pk)).data, status=code)

    @extend_schema(request=PromiseCreateSerializer, responses={201: PromiseSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Record a promise: amount (in `currency`, default the customer's), promised_date, the invoices it
        covers (none: all of the customer's), grace_days, channel, made_on and tolerance_percent."""
        params = PromiseCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = dict(params.validated_data)
        invoices = data.pop("invoices", [])
        promise = services.promise_create(actor=request.user, invoices=invoices, **data)
        return self._fresh(promise, status.HTTP_201_CREATED)

    @extend_schema(request=PromiseCancelSerializer, responses={200: PromiseSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        promise = self.get_object()
        params = PromiseCancelSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        return self._fresh(
            promise_services.promise_cancel(
                actor=request.user, promise=promise, reason=params.validated_data.get("reason", "")
            )
        )

    @extend_schema(parameters=[KeptRateParamsSerializer], responses={200: KeptRateSerializer})
    @action(detail=False, methods=["get"], url_path="kept-rate", filterset_class=None, pagination_class=None)
    def kept_rate(self, request: Request) -> Response:
        """Kept ÷ promises that came due (kept, partially kept or broken) among those promised from start to
        end (default the 90 days to today), overall and per collector (the promise's owner)."""
        params = KeptRateParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        start, end = params.validated_data["start"], params.validated_data["end"]
        overall, per = promise_kept_rate(start=start, end=end)

        def row(owner: int | None, username: str | None, rate: Any) -> dict[str, Any]:
            return {
                "owner": owner,
                "owner_username": username,
                "due": rate.due,
                "kept": rate.kept,
                "partially_kept": rate.partially_kept,
                "broken": rate.broken,
                "kept_rate": None if rate.rate is None else str(rate.rate),
            }

        return Response(
            {
                "start": start.isoformat(),
                "end": end.isoformat(),
                "formula": "kept ÷ (kept + partially kept + broken), by promised date",
                "overall": row(None, None, overall),
                "collectors": [row(c.user_id, c.username or None, c.rate) for c in per],
            }
        )
