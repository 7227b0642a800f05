"""Policy pages: the list, a policy with its levels and templates, level and template edits, YAML."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.db.models import Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views import View
from django.views.generic import DetailView, ListView

from recoup.core.errors import DomainError
from recoup.core.htmx import is_partial
from recoup.dunning import policies, selectors, services
from recoup.dunning.forms import (
    LevelForm,
    PolicyImportForm,
    PolicySettingsForm,
    TemplateForm,
    add_domain_error,
)
from recoup.dunning.models import (
    Channel,
    DunningLevel,
    DunningPolicy,
    DunningTemplate,
)
from recoup.dunning.policies import amount_text
from recoup.dunning.rules import CHANNELS
from recoup.users.models import MANAGE_ROLES, Role
from recoup.users.permissions import RoleRequiredMixin

# How a level reads ------------------------------------------------------------------------------------------


def offset_text(days: int) -> str:
    """-3 → "3 days before due", 0 → "on the due date", 15 → "15 days after due"."""
    if days == 0:
        return "on the due date"
    count = abs(days)
    return f"{count} day{'' if count == 1 else 's'} {'before' if days < 0 else 'after'} due"


def channels_text(channels: Iterable[str]) -> str:
    """In the one order every page uses: email, letter, call."""
    chosen = set(channels)
    return ", ".join(Channel(c).label for c in CHANNELS if c in chosen) or "—"


def actions_text(level: DunningLevel) -> str:
    parts = []
    if level.task_role:
        parts.append(f"review task for {Role(level.task_role).label}")
    if level.set_credit_hold:
        parts.append("credit hold")
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] or "—"


def describe_levels(levels: Iterable[DunningLevel]) -> list[DunningLevel]:
    described = []
    for level in levels:
        level.when = offset_text(level.offset_days)  # type: ignore[attr-defined]
        level.channels_label = channels_text(level.channels)  # type: ignore[attr-defined]
        level.actions_label = actions_text(level)  # type: ignore[attr-defined]
        described.append(level)
    return described


# Policies ---------------------------------------------------------------------------------------------------


class PolicyListView(RoleRequiredMixin, ListView):
    """The policies; managers import one from a YAML file (a new name creates, a known one updates)."""

    template_name = "dunning/policy_list.html"
    context_object_name = "policies"
    write_roles = MANAGE_ROLES

    def get_queryset(self) -> QuerySet[DunningPolicy]:
        return selectors.policy_list()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("import_form", PolicyImportForm())
        return super().get_context_data(nav="dunning", subnav="policies", **kwargs)

    def post(self, request: HttpRequest) -> HttpResponse:
        form = PolicyImportForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                spec = policies.parse_yaml(form.cleaned_data["file"], source=form.file_name)
                policy, created = services.policy_save(actor=request.user, spec=spec)
            except DomainError as refused:
                form.add_error("file", refused.message)
            else:
                verb = "Created" if created else "Updated"
                messages.success(request, f"{verb} policy {policy.name} with {len(spec.levels)} levels.")
                return redirect("dunning-policy-detail", policy.pk)
        self.object_list = self.get_queryset()
        return self.render_to_response(self.get_context_data(import_form=form))


def _policy_queryset() -> QuerySet[DunningPolicy]:
    return selectors.with_levels(selectors.policy_list())


def _save_policy(request: HttpRequest, policy: DunningPolicy, data: dict[str, Any]) -> DunningPolicy:
    """Write a policy changed as plain data: checked by policies.parse_policy, written by policy_save."""
    spec = policies.parse_policy(data, source=policy.name)
    saved, _ = services.policy_save(actor=request.user, spec=spec)
    return saved


class PolicyDetailView(RoleRequiredMixin, DetailView):
    """A policy: its settings, its levels as a table and each level's templates by language."""

    template_name = "dunning/policy_detail.html"
    context_object_name = "policy"
    write_roles = MANAGE_ROLES

    def get_queryset(self) -> QuerySet[DunningPolicy]:
        return _policy_queryset()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        policy: DunningPolicy = self.object
        kwargs.setdefault(
            "settings_form",
            PolicySettingsForm(
                initial={
                    "description": policy.description,
                    "is_default": policy.is_default,
                    "allow_level_jump": policy.allow_level_jump,
                    "tolerance": amount_text(policy.tolerance),
                    "default_language": policy.default_language,
                }
            ),
        )
        levels = describe_levels(policy.levels.all())
        for level in levels:
            level.new_template_form = template_form(level)  # type: ignore[attr-defined]
        return super().get_context_data(
            nav="dunning",
            subnav="policies",
            levels=levels,
            **kwargs,
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        self.object = policy = self.get_object()
        form = PolicySettingsForm(request.POST)
        if form.is_valid():
            data = policies.policy_as_dict(policy)
            data.update(
                description=form.cleaned_data["description"],
                # The page offers no way to unset the default: another policy takes it over.
                default=form.cleaned_data["is_default"] or policy.is_default,
                allow_level_jump=form.cleaned_data["allow_level_jump"],
                tolerance=f"{form.cleaned_data['tolerance']:f}",
                default_language=form.cleaned_data["default_language"],
            )
            try:
                _save_policy(request, policy, data)
            except DomainError as refused:
                add_domain_error(form, refused)
            else:
                messages.success(request, f"Saved the settings of {policy.name}.")
                return redirect("dunning-policy-detail", policy.pk)
        return self.render_to_response(self.get_context_data(settings_form=form))


class PolicyYamlView(RoleRequiredMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        policy = get_object_or_404(DunningPolicy, pk=pk)
        response = HttpResponse(
            policies.policy_as_yaml(policy), content_type="application/yaml; charset=utf-8"
        )
        name = slugify(policy.name) or f"policy-{policy.pk}"
        response["Content-Disposition"] = f'attachment; filename="{name}.yaml"'
        return response


def level_or_404(pk: int) -> DunningLevel:
    return get_object_or_404(
        DunningLevel.objects.select_related("policy").prefetch_related(
            Prefetch("templates", queryset=DunningTemplate.objects.order_by("language"))
        ),
        pk=pk,
    )


def _level_url(level: DunningLevel) -> str:
    return f"{reverse('dunning-policy-detail', args=[level.policy_id])}#level-{level.position}"


class LevelEditView(RoleRequiredMixin, View):
    """A level's settings, written through the whole policy (policies.parse_policy checks the order)."""

    read_roles = MANAGE_ROLES
    write_roles = MANAGE_ROLES

    def _render(self, request: HttpRequest, level: DunningLevel, form: LevelForm) -> HttpResponse:
        context = {"nav": "dunning", "subnav": "policies", "level": describe_levels([level])[0], "form": form}
        return render(request, "dunning/level_edit.html", context)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        level = level_or_404(pk)
        form = LevelForm(
            initial={
                "name": level.name,
                "offset_days": level.offset_days,
                "channels": level.channels,
                "min_amount": amount_text(level.min_amount),
                "min_gap_days": level.min_gap_days,
                "task_role": level.task_role,
                "set_credit_hold": level.set_credit_hold,
            }
        )
        return self._render(request, level, form)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        level = level_or_404(pk)
        form = LevelForm(request.POST)
        if form.is_valid():
            values = form.cleaned_data
            data = policies.policy_as_dict(level.policy)
            positions = list(level.policy.levels.order_by("position").values_list("position", flat=True))
            entry = data["levels"][positions.index(level.position)]
            entry.update(
                name=values["name"],
                offset_days=values["offset_days"],
                channels=[c for c in CHANNELS if c in values["channels"]],
                min_amount=f"{values['min_amount']:f}",
                min_gap_days=values["min_gap_days"],
            )
            entry.pop("actions", None)
            if values["task_role"] or values["set_credit_hold"]:
                entry["actions"] = {
                    "task_for_role": values["task_role"] or None,
                    "credit_hold": values["set_credit_hold"],
                }
            try:
                _save_policy(request, level.policy, data)
            except DomainError as refused:
                add_domain_error(form, refused, LevelForm.ALIASES)
            else:
                messages.success(request, f"Saved level {level.position} ({values['name']}).")
                return redirect(_level_url(level))
        return self._render(request, level, form)


class TemplateEditView(RoleRequiredMixin, View):
    """One template of a level, edited in place on the policy page (htmx swaps its row) or on a page."""

    read_roles = MANAGE_ROLES
    write_roles = MANAGE_ROLES

    def _template(self, pk: int, language: str) -> tuple[DunningLevel, DunningTemplate]:
        level = level_or_404(pk)
        template = next((t for t in level.templates.all() if t.language == language), None)
        if template is None:
            raise Http404("No template in that language")
        return level, template

    def _render(
        self, request: HttpRequest, level: DunningLevel, template: Any, form: TemplateForm | None
    ) -> HttpResponse:
        context = {"nav": "dunning", "subnav": "policies", "level": level, "template": template, "form": form}
        if not is_partial(request):
            return render(request, "dunning/template_edit.html", context)
        name = "dunning/partials/template_form.html" if form else "dunning/partials/template_row.html"
        return render(request, name, context)

    def get(self, request: HttpRequest, pk: int, language: str) -> HttpResponse:
        level, template = self._template(pk, language)
        if request.GET.get("view") == "row":  # the editor's Cancel
            return self._render(request, level, template, None)
        form = template_form(
            level,
            language,
            initial={"language": template.language, "subject": template.subject, "body": template.body},
        )
        return self._render(request, level, template, form)

    def post(self, request: HttpRequest, pk: int, language: str) -> HttpResponse:
        level, template = self._template(pk, language)
        form = template_form(level, language, data={**request.POST.dict(), "language": template.language})
        saved = _template_save(request, level, form)
        if saved is None:
            return self._render(request, level, template, form)
        if is_partial(request):
            return render(
                request,
                "dunning/partials/template_row.html",
                {"level": level, "template": saved, "just_saved": True},
            )
        messages.success(request, f"Saved the {saved.language} template of {level.name}.")
        return redirect(_level_url(level))


class TemplateCreateView(RoleRequiredMixin, View):
    """A level's template in another language (a language it has already is updated)."""

    write_roles = MANAGE_ROLES
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        level = level_or_404(pk)
        form = template_form(level, data=request.POST)
        saved = _template_save(request, level, form)
        if saved is None:
            context = {"nav": "dunning", "subnav": "policies", "level": level, "template": None, "form": form}
            return render(request, "dunning/template_edit.html", context)
        messages.success(request, f"Saved the {saved.language} template of {level.name}.")
        return redirect(_level_url(level))


def template_form(level: DunningLevel, language: str = "", **kwargs: Any) -> TemplateForm:
    """A level's template form, its ids unique on a page that shows every level's."""
    return TemplateForm(auto_id=f"id_{level.pk}_{language or 'new'}_%s", **kwargs)


def _template_save(request: HttpRequest, level: DunningLevel, form: TemplateForm) -> DunningTemplate | None:
    if not form.is_valid():
        return None
    try:
        return services.template_save(
            actor=request.user,
            level=level,
            language=form.cleaned_data["language"],
            subject=form.cleaned_data["subject"],
            body=form.cleaned_data["body"],
        )
    except DomainError as refused:
        add_domain_error(form, refused, form.alias_for(refused))
        return None
