"""Settings → Task rules (managers and admins only): how each trigger makes its tasks, and the assignment
rules that place the work of customers without a collector. Writes go through activity.task_services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from recoup.activity import task_services
from recoup.activity.models import AssignmentRule, TaskKind, TaskRule
from recoup.core.errors import DomainError
from recoup.users.models import MANAGE_ROLES, WRITE_ROLES, Team, User
from recoup.users.permissions import RoleRequiredMixin


class TaskRuleForm(forms.Form):
    is_active = forms.BooleanField(required=False, label="Active")
    kind = forms.ChoiceField(choices=TaskKind.choices)
    due_in_days = forms.IntegerField(min_value=0, max_value=365, label="Due after (days)")
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"),
        required=False,
        empty_label="— none —",
        label="Round robin team",
    )
    min_amount = forms.DecimalField(
        min_value=0, max_digits=19, decimal_places=4, label="Minimum amount (base currency)"
    )


class AssignmentRuleForm(forms.Form):
    position = forms.IntegerField(min_value=0, max_value=32767, initial=0)
    is_active = forms.BooleanField(required=False, initial=True, label="Active")
    segment = forms.CharField(max_length=64, required=False, help_text="Empty: any segment.")
    min_balance = forms.DecimalField(
        min_value=0, max_digits=19, decimal_places=4, required=False, label="Balance from"
    )
    max_balance = forms.DecimalField(
        min_value=0, max_digits=19, decimal_places=4, required=False, label="Balance below"
    )
    user = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True, role__in=WRITE_ROLES).order_by("username"),
        required=False,
        empty_label="— none —",
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"), required=False, empty_label="— none —"
    )


def _add_error(form: forms.Form, refused: DomainError) -> None:
    form.add_error(refused.field if refused.field in form.fields else None, refused.message)


def _in_row(form: forms.Form, form_id: str) -> forms.Form:
    """A form whose fields sit in table cells, outside the <form> element: they name it with form=."""
    for field in form.fields.values():
        field.widget.attrs["form"] = form_id
    return form


def settings_context(**bound: Any) -> dict[str, Any]:
    rules = list(TaskRule.objects.select_related("team"))
    forms_by_rule = bound.pop("rule_forms", {})
    forms_by_assignment = bound.pop("assignment_forms", {})
    return {
        "nav": "settings",
        "rules": [
            (
                rule,
                _in_row(
                    forms_by_rule.get(rule.pk)
                    or TaskRuleForm(
                        initial={
                            "is_active": rule.is_active,
                            "kind": rule.kind,
                            "due_in_days": rule.due_in_days,
                            "team": rule.team_id,
                            "min_amount": rule.min_amount,
                        },
                        prefix=f"rule{rule.pk}",
                    ),
                    f"rule-form-{rule.pk}",
                ),
            )
            for rule in rules
        ],
        "assignment_rules": [
            (
                rule,
                _in_row(
                    forms_by_assignment.get(rule.pk)
                    or AssignmentRuleForm(
                        initial={
                            "position": rule.position,
                            "is_active": rule.is_active,
                            "segment": rule.segment,
                            "min_balance": rule.min_balance,
                            "max_balance": rule.max_balance,
                            "user": rule.user_id,
                            "team": rule.team_id,
                        },
                        prefix=f"assign{rule.pk}",
                    ),
                    f"assignment-form-{rule.pk}",
                ),
            )
            for rule in AssignmentRule.objects.select_related("user", "team")
        ],
        "new_form": bound.pop("new_form", None) or AssignmentRuleForm(prefix="new"),
        **bound,
    }


class TaskRulesView(RoleRequiredMixin, View):
    read_roles = MANAGE_ROLES
    write_roles = MANAGE_ROLES
    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "activity/task_rules.html", settings_context())


class TaskRuleUpdateView(RoleRequiredMixin, View):
    read_roles = MANAGE_ROLES
    write_roles = MANAGE_ROLES
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        rule = get_object_or_404(TaskRule, pk=pk)
        form = TaskRuleForm(request.POST, prefix=f"rule{rule.pk}")
        if form.is_valid():
            try:
                task_services.task_rule_update(actor=request.user, rule=rule, **form.cleaned_data)
            except DomainError as refused:
                _add_error(form, refused)
            else:
                messages.success(request, f"Saved the rule for “{rule.get_trigger_display()}”.")
                return redirect("task-rules")
        context = settings_context(rule_forms={rule.pk: form})
        return render(request, "activity/task_rules.html", context, status=400)


class AssignmentRuleSaveView(RoleRequiredMixin, View):
    """POST without pk: a new rule; with pk: change it; with pk and `delete`: remove it."""

    read_roles = MANAGE_ROLES
    write_roles = MANAGE_ROLES
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        rule = get_object_or_404(AssignmentRule, pk=pk) if pk is not None else None
        if rule is not None and "delete" in request.POST:
            task_services.assignment_rule_delete(actor=request.user, rule=rule)
            messages.success(request, "Assignment rule removed.")
            return redirect("task-rules")
        prefix = f"assign{rule.pk}" if rule is not None else "new"
        form = AssignmentRuleForm(request.POST, prefix=prefix)
        if form.is_valid():
            try:
                task_services.assignment_rule_save(actor=request.user, rule=rule, **form.cleaned_data)
            except DomainError as refused:
                _add_error(form, refused)
            else:
                messages.success(request, "Assignment rule saved.")
                return redirect("task-rules")
        bound = {"assignment_forms": {rule.pk: form}} if rule is not None else {"new_form": form}
        return render(request, "activity/task_rules.html", settings_context(**bound), status=400)
