"""Tasks and promises to pay through the API, with their actions and the promise kept rate. Writes go through
recoup.activity.task_services, promise_services and services."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from recoup.activity import rules
from recoup.activity.models import Promise, PromiseChannel, PromiseStatus, Task, TaskKind, TaskStatus
from recoup.activity.services import MAX_GRACE_DAYS
from recoup.activity.task_services import BULK_ACTIONS, BULK_MAX
from recoup.api.fields import (
    AmountField,
    CurrencyCodeField,
    ExternalIdField,
    check_amount_for_currency,
    money,
)
from recoup.api.serializers.disputes import RowIdField
from recoup.api.serializers.dunning import EARLIEST_AS_OF
from recoup.ledger.models import Customer, Invoice
from recoup.users.models import Role, User

TITLE_MAX_CHARS = 255
TEXT_MAX_CHARS = 10_000
DAYS_AHEAD = 3653  # how far ahead a due or promised date may be: ten years


def check_date(value: dt.date) -> None:
    """From 1900 to ten years ahead: any later and date arithmetic (a deadline, a due date) could overflow."""
    latest = timezone.localdate() + dt.timedelta(days=DAYS_AHEAD)
    if not EARLIEST_AS_OF <= value <= latest:
        raise serializers.ValidationError(f"Choose a date from {EARLIEST_AS_OF} to {latest}.")


# Choices are documented as strings that name their values, not as enums: drf-spectacular names an enum
# after its field, and "kind", "channel", "status" and "role" name other choice sets already (a warning,
# which CI fails on).
@extend_schema_field({"type": "string"})
class NamedChoiceField(serializers.ChoiceField):
    def __init__(self, choices: Any, **kwargs: Any) -> None:
        values = [value for value, _ in choices]
        help_text = kwargs.pop("help_text", "")
        kwargs["help_text"] = f"{help_text} One of {', '.join(values)}.".strip()
        super().__init__(choices=choices, **kwargs)


# Tasks ------------------------------------------------------------------------------------------------------


class TaskSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id", help_text="The customer's external id.")
    customer_name = serializers.CharField(source="customer.name")
    invoices = serializers.SerializerMethodField()
    owner = serializers.IntegerField(source="owner_id", allow_null=True, help_text="The owner's user id.")
    owner_username = serializers.CharField(source="owner.username", allow_null=True)
    kind = NamedChoiceField(TaskKind.choices)
    role = serializers.CharField(help_text="While nobody owns it: the role anyone of which may take it.")
    status = NamedChoiceField(TaskStatus.choices)
    rule = serializers.CharField(
        source="rule.trigger", allow_null=True, help_text="The trigger whose rule made it; null: by hand."
    )

    class Meta:
        model = Task
        fields = [
            "id",
            "kind",
            "title",
            "description",
            "customer",
            "customer_name",
            "invoices",
            "owner",
            "owner_username",
            "role",
            "due_date",
            "status",
            "rule",
            "source_key",
            "completed_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_invoices(self, task: Task) -> list[str]:
        """The external ids of the invoices it concerns."""
        return [invoice.external_id for invoice in task.invoices.all()]


class TaskCreateSerializer(serializers.Serializer):
    customer = ExternalIdField(queryset=Customer.objects.all(), help_text="The customer's external id.")
    kind = NamedChoiceField(TaskKind.choices)
    title = serializers.CharField(max_length=TITLE_MAX_CHARS)
    description = serializers.CharField(required=False, allow_blank=True, max_length=TEXT_MAX_CHARS)
    due_date = serializers.DateField(validators=[check_date])
    owner = RowIdField(
        queryset=User.objects.all(),
        required=False,
        allow_null=True,
        help_text="The owner's user id; default you. null (managers): nobody, for anyone with `role`.",
    )
    role = NamedChoiceField(
        Role.choices,
        required=False,
        default=Role.COLLECTOR,
        help_text="For an unowned task: who may take it.",
    )
    invoices = serializers.ListField(
        child=ExternalIdField(queryset=Invoice.objects.all()),
        required=False,
        max_length=1000,
        help_text="External ids of the customer's invoices it concerns.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "owner" not in attrs:
            attrs["owner"] = self.context["request"].user
        return attrs


class TaskReassignSerializer(serializers.Serializer):
    owner = RowIdField(
        queryset=User.objects.all(),
        allow_null=True,
        help_text="The new owner's user id; null (managers): nobody, for anyone with `role`.",
    )
    role = NamedChoiceField(
        Role.choices,
        required=False,
        default=Role.COLLECTOR,
        help_text="For an unowned task: who may take it.",
    )


class TaskSnoozeSerializer(serializers.Serializer):
    due_date = serializers.DateField(validators=[check_date], help_text="Today or later.")


class TaskBulkSerializer(serializers.Serializer):
    action = NamedChoiceField([(a, a) for a in BULK_ACTIONS])
    tasks = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        min_length=1,
        max_length=BULK_MAX,
        help_text=f"Task ids, 1 to {BULK_MAX}: all are changed, or none.",
    )
    owner = RowIdField(
        queryset=User.objects.all(), required=False, allow_null=True, help_text="reassign: the new owner."
    )
    role = NamedChoiceField(
        Role.choices,
        required=False,
        default=Role.COLLECTOR,
        help_text="For an unowned task: who may take it.",
    )
    due_date = serializers.DateField(
        required=False, validators=[check_date], help_text="snooze: the new date."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["action"] == "snooze" and attrs.get("due_date") is None:
            raise serializers.ValidationError({"due_date": ["Give the new due date."]})
        if attrs["action"] == "reassign" and "owner" not in attrs:
            raise serializers.ValidationError({"owner": ["Give the new owner (null: nobody)."]})
        return attrs


class TaskBulkResultSerializer(serializers.Serializer):
    action = serializers.CharField()
    tasks = TaskSerializer(many=True)


# Promises ---------------------------------------------------------------------------------------------------


class PromiseSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id", help_text="The customer's external id.")
    customer_name = serializers.CharField(source="customer.name")
    invoices = serializers.SerializerMethodField()
    deadline = serializers.SerializerMethodField()
    status = NamedChoiceField(PromiseStatus.choices)
    channel = NamedChoiceField(PromiseChannel.choices)
    owner = serializers.IntegerField(
        source="owner_id",
        allow_null=True,
        help_text="Who follows it up (user id): its maker, else the collector.",
    )
    owner_username = serializers.CharField(source="owner.username", allow_null=True)

    class Meta:
        model = Promise
        fields = [
            "id",
            "customer",
            "customer_name",
            "invoices",
            "amount",
            "currency",
            "promised_date",
            "grace_days",
            "deadline",
            "channel",
            "status",
            "made_on",
            "tolerance_percent",
            "paid_amount",
            "evaluated_on",
            "resolved_on",
            "owner",
            "owner_username",
            "created_at",
        ]
        read_only_fields = fields

    def to_representation(self, instance: Promise) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["amount"] = money(instance.amount, instance.currency)
        data["paid_amount"] = money(instance.paid_amount, instance.currency)
        return data

    def get_invoices(self, promise: Promise) -> list[str]:
        """The external ids of the invoices it covers; empty: all of the customer's."""
        return [invoice.external_id for invoice in promise.invoices.all()]

    def get_deadline(self, promise: Promise) -> dt.date:
        """The promised date plus the grace period: the last day a payment counts."""
        return rules.promise_deadline(promise.promised_date, promise.grace_days)


class PromiseCreateSerializer(serializers.Serializer):
    customer = ExternalIdField(queryset=Customer.objects.all(), help_text="The customer's external id.")
    amount = AmountField()
    currency = CurrencyCodeField(required=False, help_text="Default: the customer's currency.")
    promised_date = serializers.DateField(validators=[check_date])
    invoices = serializers.ListField(
        child=ExternalIdField(queryset=Invoice.objects.all()),
        required=False,
        max_length=1000,
        help_text="External ids of the invoices it covers; none: all of the customer's.",
    )
    grace_days = serializers.IntegerField(required=False, min_value=0, max_value=MAX_GRACE_DAYS, default=3)
    channel = NamedChoiceField(PromiseChannel.choices, required=False, default=PromiseChannel.CALL)
    made_on = serializers.DateField(required=False, validators=[check_date], help_text="Default today.")
    tolerance_percent = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
        required=False,
        help_text="Default: the installation's RECOUP_PROMISE_TOLERANCE_PERCENT.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        currency = attrs.get("currency") or attrs["customer"].currency
        check_amount_for_currency(attrs["amount"], currency)
        made_on = attrs.get("made_on") or timezone.localdate()
        if made_on > timezone.localdate():
            raise serializers.ValidationError(
                {"made_on": ["A promise is recorded once it is made, not ahead."]}
            )
        if attrs["promised_date"] < made_on:
            raise serializers.ValidationError(
                {"promised_date": ["The promised date is before the promise was made."]}
            )
        return attrs


class PromiseCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=TEXT_MAX_CHARS)


class KeptRateParamsSerializer(serializers.Serializer):
    start = serializers.DateField(
        required=False, help_text="The first promised date counted; default 89 days before end."
    )
    end = serializers.DateField(required=False, help_text="The last promised date counted; default today.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        end = attrs.get("end") or timezone.localdate()
        start = attrs.get("start") or end - dt.timedelta(days=89)
        for name, value in (("start", start), ("end", end)):
            try:
                check_date(value)
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({name: exc.detail}) from exc
        if start > end:
            raise serializers.ValidationError({"start": ["The start is after the end."]})
        return {"start": start, "end": end}


class KeptRateRowSerializer(serializers.Serializer):
    owner = serializers.IntegerField(allow_null=True, help_text="The collector's user id; null: nobody.")
    owner_username = serializers.CharField(allow_null=True)
    due = serializers.IntegerField(help_text="Promises that came due: kept + partially kept + broken.")
    kept = serializers.IntegerField()
    partially_kept = serializers.IntegerField()
    broken = serializers.IntegerField()
    kept_rate = serializers.DecimalField(
        max_digits=5, decimal_places=4, allow_null=True, help_text="kept ÷ due; null when none came due."
    )


class KeptRateSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    formula = serializers.CharField()
    overall = KeptRateRowSerializer()
    collectors = KeptRateRowSerializer(many=True)

    def to_representation(self, instance: Any) -> Any:  # documentation only: the view builds the answer
        return instance
