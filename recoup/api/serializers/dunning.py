"""Dunning through the API: policies (the JSON shape of the policy files), runs and their reports, the outbox,
holds, and an invoice's dunning status. Writes go through recoup.dunning.services."""

from __future__ import annotations

import datetime as dt
from itertools import islice
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from recoup.api.fields import ExternalIdField, money
from recoup.api.serializers.base import QuantizedAmountsSerializer
from recoup.dunning import services
from recoup.dunning.models import (
    Channel,
    DunningHold,
    DunningRun,
    MessageItem,
    MessageStatus,
    OutboundMessage,
)
from recoup.dunning.planning import Plan
from recoup.dunning.selectors import InvoiceDunningStatus
from recoup.ledger.models import Customer, Invoice
from recoup.users.models import Role

EARLIEST_AS_OF = dt.date(1900, 1, 1)
AHEAD_DAYS = 366  # how far past today a dry run or a status may look
DRY_RUN_MESSAGES = 1000  # a dry run lists at most this many messages; the report counts them all


def check_as_of(value: dt.date, *, latest: dt.date) -> dt.date:
    if value < EARLIEST_AS_OF:
        raise serializers.ValidationError(f"Choose a date from {EARLIEST_AS_OF} on.")
    if value > latest:
        raise serializers.ValidationError(f"Choose a date no later than {latest}.")
    return value


class AsOfParamsSerializer(serializers.Serializer):
    as_of = serializers.DateField(
        required=False, help_text=f"YYYY-MM-DD; default today, at most {AHEAD_DAYS} days ahead."
    )

    def validate_as_of(self, value: dt.date) -> dt.date:
        return check_as_of(value, latest=timezone.localdate() + dt.timedelta(days=AHEAD_DAYS))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs.setdefault("as_of", timezone.localdate())
        return attrs


# Policies ---------------------------------------------------------------------------------------------------


class PolicyActionsSerializer(serializers.Serializer):
    task_for_role = serializers.ChoiceField(
        choices=Role.choices, allow_null=True, required=False, help_text="Create a review task for this role."
    )
    credit_hold = serializers.BooleanField(required=False, help_text="Set a credit hold on the customer.")


class PolicyTemplateSerializer(serializers.Serializer):
    subject = serializers.CharField(max_length=255)
    body = serializers.CharField()


class PolicyLevelSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    offset_days = serializers.IntegerField(help_text="Days after the due date; negative: before it.")
    channels = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Some of email, letter, call; default [email].",
    )
    min_amount = serializers.CharField(required=False, help_text="A decimal amount in the base currency.")
    min_gap_days = serializers.IntegerField(min_value=0, required=False)
    actions = PolicyActionsSerializer(required=False)
    templates = serializers.DictField(
        child=PolicyTemplateSerializer(),
        required=False,
        help_text="Language → subject and body (dunning template syntax); none: the built-in ones.",
    )


class DunningPolicySerializer(serializers.Serializer):
    # The policy file's shape (docs/dunning.md), plus the id. A comment, not a docstring: drf-spectacular
    # would publish a docstring as the component's description. Requests are checked by
    # recoup.dunning.policies.parse_policy, not by these fields, which document the shape.
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True)
    default = serializers.BooleanField(required=False, help_text="The policy for whatever names none.")
    allow_level_jump = serializers.BooleanField(required=False)
    tolerance = serializers.CharField(
        required=False, help_text="Smaller dunnable amounts (base currency) are not chased; default 1.00."
    )
    default_language = serializers.CharField(max_length=16, required=False)
    levels = PolicyLevelSerializer(many=True)

    def to_representation(self, instance: Any) -> Any:  # the views build the dict (policy_representation)
        return instance


# Runs -------------------------------------------------------------------------------------------------------


class RunRequestSerializer(serializers.Serializer):
    as_of = serializers.DateField(
        required=False,
        help_text="YYYY-MM-DD; default today. A run is refused for a date before the last run's; a real run "
        f"also for a date after today (a dry run may look {AHEAD_DAYS} days ahead).",
    )
    dry_run = serializers.BooleanField(
        default=False, help_text="Plan and report only: nothing is written and nothing is sent."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # A real run after today is the service's to refuse (recoup.dunning.services.dunning_run).
        today = timezone.localdate()
        as_of = attrs.setdefault("as_of", today)
        try:
            check_as_of(as_of, latest=today + dt.timedelta(days=AHEAD_DAYS))
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"as_of": exc.detail}) from exc
        return attrs


class DunningRunSerializer(serializers.ModelSerializer):
    status = serializers.CharField(
        read_only=True, help_text="planning (in progress), planned (written) or failed (see error)."
    )
    actor: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, help_text="Who started it."
    )
    message_count = serializers.IntegerField(read_only=True, help_text="Outbox messages the run wrote.")
    report = serializers.JSONField(
        read_only=True,
        help_text="customers, messages_total, messages by level and channel, invoices_moved, skipped by "
        "reason, actions, fx_rates (docs/dunning.md).",
    )

    class Meta:
        model = DunningRun
        fields = [
            "id",
            "as_of",
            "status",
            "started_at",
            "heartbeat_at",
            "finished_at",
            "report",
            "error",
            "actor",
            "message_count",
        ]
        read_only_fields = fields


class PlannedItemSerializer(serializers.Serializer):
    invoice = serializers.CharField(help_text="The invoice's external id.")
    invoice_id = serializers.IntegerField()
    level = serializers.CharField(help_text="The level it stands at once the run is written.")
    new = serializers.BooleanField(help_text="Moved to that level by this run (else carried).")
    open_amount = serializers.CharField()
    disputed_amount = serializers.CharField()
    currency = serializers.CharField()
    days_past_due = serializers.IntegerField()


class PlannedMessageSerializer(serializers.Serializer):
    customer = serializers.CharField(help_text="The customer's external id.")
    customer_id = serializers.IntegerField()
    customer_name = serializers.CharField()
    channel = serializers.ChoiceField(choices=Channel.choices)
    fallback_from = serializers.CharField(
        allow_blank=True, help_text='"email" when a customer without an email address gets a call instead.'
    )
    policy = serializers.CharField()
    level = serializers.CharField(help_text="The highest level among the invoices that move.")
    level_id = serializers.IntegerField()
    send_at = serializers.DateTimeField()
    invoices = PlannedItemSerializer(many=True)


class DryRunSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    dry_run = serializers.BooleanField()
    report = serializers.JSONField(help_text="As a run's report.")
    messages = PlannedMessageSerializer(
        many=True, help_text=f"What would go out, customer by customer: at most {DRY_RUN_MESSAGES}."
    )
    messages_truncated = serializers.BooleanField(
        help_text=f"More than {DRY_RUN_MESSAGES} would go out (report.messages_total counts them)."
    )


def dry_run_as_dict(result: services.RunResult) -> dict[str, Any]:
    plan: Plan = result.plan
    messages: list[dict[str, Any]] = []
    for customer_plan, communication in islice(plan.outgoing(), DRY_RUN_MESSAGES):
        listed = customer_plan.listed()
        policy, level = plan.levels[communication.level.id]
        messages.append(
            {
                "customer": customer_plan.customer.external_id,
                "customer_id": customer_plan.customer.id,
                "customer_name": customer_plan.customer.name,
                "channel": communication.channel,
                "fallback_from": communication.fallback_from,
                "policy": policy,
                "level": level,
                "level_id": communication.level.id,
                "send_at": communication.send_at,
                "invoices": [
                    {
                        "invoice": decision.external_id,
                        "invoice_id": decision.invoice_id,
                        "level": plan.level_name(decision.level_id),
                        "new": decision.target is not None,
                        "open_amount": money(decision.open, decision.currency),
                        "disputed_amount": money(decision.disputed, decision.currency),
                        "currency": decision.currency,
                        "days_past_due": decision.days_past_due,
                    }
                    for decision in listed
                ],
            }
        )
    return {
        "as_of": plan.as_of,
        "dry_run": True,
        "report": result.report,
        "messages": messages,
        "messages_truncated": plan.messages > len(messages),
    }


# The outbox -------------------------------------------------------------------------------------------------


class MessageItemSerializer(QuantizedAmountsSerializer):
    amount_fields = ("open_amount", "disputed_amount")
    invoice = serializers.CharField(source="invoice.external_id", help_text="The invoice's external id.")
    level = serializers.CharField(source="level.name")

    class Meta:
        model = MessageItem
        fields = [
            "invoice",
            "invoice_id",
            "level",
            "level_id",
            "is_new",
            "open_amount",
            "disputed_amount",
            "currency",
            "days_past_due",
        ]
        read_only_fields = fields


class OutboundMessageSerializer(serializers.ModelSerializer):
    key = serializers.CharField(
        read_only=True,
        help_text="customer:level:channel:as_of for a reminder, manual:<request key> for an email sent by "
        "hand; unique.",
    )
    kind = serializers.SerializerMethodField()
    customer = serializers.CharField(source="customer.external_id", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    policy = serializers.CharField(source="level.policy.name", read_only=True, allow_null=True, default=None)
    level = serializers.CharField(source="level.name", read_only=True, allow_null=True, default=None)
    level_position = serializers.IntegerField(
        source="level.position", read_only=True, allow_null=True, default=None
    )
    template = serializers.CharField(
        source="template.name",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="The template of an email sent by hand.",
    )
    author: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, help_text="Who sent an email by hand."
    )
    invoices: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True, help_text="The ids of the invoices an email sent by hand concerns."
    )
    run = serializers.IntegerField(source="run_id", read_only=True, allow_null=True)
    recipients = serializers.ListField(child=serializers.CharField(), read_only=True)
    document = serializers.SerializerMethodField()
    items = MessageItemSerializer(many=True, read_only=True)

    class Meta:
        model = OutboundMessage
        fields = [
            "id",
            "key",
            "kind",
            "customer",
            "customer_id",
            "customer_name",
            "policy",
            "level",
            "level_id",
            "level_position",
            "template",
            "template_id",
            "author",
            "request_key",
            "invoices",
            "channel",
            "as_of",
            "run",
            "send_at",
            "status",
            "attempts",
            "next_attempt_at",
            "sent_at",
            "last_error",
            "message_id",
            "language",
            "recipients",
            "subject",
            "document",
            "created_at",
            "items",
        ]
        read_only_fields = fields

    def get_kind(self, message: OutboundMessage) -> str:
        """Either "reminder" (a dunning run's) or "manual" (an email a person sent)."""
        return "reminder" if message.level_id is not None else "manual"

    def get_document(self, message: OutboundMessage) -> str | None:
        """The stored letter (PDF) of a letter message, once it is made."""
        return message.document.name or None


class OutboundMessageDetailSerializer(OutboundMessageSerializer):
    class Meta(OutboundMessageSerializer.Meta):
        fields = [*OutboundMessageSerializer.Meta.fields, "body_text", "body_html"]
        read_only_fields = fields


# Holds ------------------------------------------------------------------------------------------------------


class DunningHoldSerializer(serializers.ModelSerializer):
    customer = ExternalIdField(queryset=Customer.objects.all(), help_text="The customer's external id.")
    invoice = ExternalIdField(
        queryset=Invoice.objects.all(),
        required=False,
        allow_null=True,
        help_text="The external id of the one invoice to hold; none: the whole customer.",
    )
    reason = serializers.CharField(max_length=255)
    until = serializers.DateField(
        required=False, allow_null=True, help_text="The last day of the hold; none: until released."
    )
    active = serializers.SerializerMethodField()
    created_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = DunningHold
        fields = [
            "id",
            "customer",
            "customer_id",
            "invoice",
            "invoice_id",
            "reason",
            "until",
            "active",
            "created_at",
            "created_by",
            "released_at",
        ]
        read_only_fields = ["customer_id", "invoice_id", "created_at", "released_at"]

    def get_active(self, hold: DunningHold) -> bool:
        """Not released, and not past its last day (today)."""
        return hold.in_force_on(timezone.localdate())

    def create(self, validated_data: dict[str, Any]) -> DunningHold:
        return services.hold_create(actor=self.context["request"].user, **validated_data)


# An invoice's dunning status --------------------------------------------------------------------------------


class StepSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    level = serializers.CharField()
    level_id = serializers.IntegerField()
    from_level = serializers.CharField(allow_null=True)
    run = serializers.IntegerField()
    dunned_amount = serializers.CharField()
    currency = serializers.CharField()


class StatusMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    as_of = serializers.DateField()
    channel = serializers.ChoiceField(choices=Channel.choices)
    level = serializers.CharField(allow_null=True, help_text="None: an email a person sent by hand.")
    status = serializers.ChoiceField(choices=MessageStatus.choices)
    send_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)


class StatusHoldSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    invoice_id = serializers.IntegerField(allow_null=True, help_text="None: the whole customer is held.")
    reason = serializers.CharField()
    until = serializers.DateField(allow_null=True)


class InvoiceDunningSerializer(serializers.Serializer):
    invoice = serializers.CharField(help_text="The invoice's external id.")
    invoice_id = serializers.IntegerField()
    as_of = serializers.DateField()
    policy = serializers.CharField(allow_null=True, help_text="The policy that applies; none: no policy.")
    policy_id = serializers.IntegerField(allow_null=True)
    policy_source = serializers.ChoiceField(
        choices=["invoice", "customer", "default"],
        allow_null=True,
        help_text="Where the policy comes from: the invoice's own, its customer's, or the default.",
    )
    level = serializers.CharField(allow_null=True, help_text="The level reached; none: never dunned.")
    level_position = serializers.IntegerField(allow_null=True)
    since = serializers.DateField(allow_null=True, help_text="When the invoice reached that level.")
    verdict = serializers.ChoiceField(
        choices=["moves", "skipped", "paid", "not_issued"], help_text="What a run as of the date does."
    )
    reason = serializers.CharField(allow_blank=True, help_text="Why it is skipped (a code), else empty.")
    explanation = serializers.CharField()
    next_level = serializers.CharField(allow_null=True, help_text="The level it moves to, when it moves.")
    steps = StepSerializer(many=True, help_text="Every move so far, oldest first.")
    messages = StatusMessageSerializer(many=True, help_text="The messages that listed it, newest first.")
    holds = StatusHoldSerializer(many=True, help_text="Holds in force on the date.")


def dunning_status(invoice: Invoice, as_of: dt.date, found: InvoiceDunningStatus) -> dict[str, Any]:
    state = found.state
    return {
        "invoice": invoice.external_id,
        "invoice_id": invoice.pk,
        "as_of": as_of,
        "policy": found.policy.name if found.policy else None,
        "policy_id": found.policy.pk if found.policy else None,
        "policy_source": found.policy_source or None,
        "level": state.level.name if state else None,
        "level_position": state.level.position if state else None,
        "since": state.moved_on if state else None,
        "verdict": found.verdict,
        "reason": found.reason,
        "explanation": found.explanation,
        "next_level": found.next_level or None,
        "steps": [
            {
                "as_of": step.as_of,
                "level": step.level.name,
                "level_id": step.level_id,
                "from_level": step.from_level.name if step.from_level else None,
                "run": step.run_id,
                "dunned_amount": money(step.dunned_amount, step.currency),
                "currency": step.currency,
            }
            for step in found.steps
        ],
        "messages": [
            {
                "id": message.pk,
                "as_of": message.as_of,
                "channel": message.channel,
                "level": message.level.name if message.level else None,
                "status": message.status,
                "send_at": message.send_at,
                "sent_at": message.sent_at,
            }
            for message in found.messages
        ],
        "holds": [
            {"id": hold.pk, "invoice_id": hold.invoice_id, "reason": hold.reason, "until": hold.until}
            for hold in found.holds
        ],
    }
