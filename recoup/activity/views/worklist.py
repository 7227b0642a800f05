"""The collector's day: "My work today" (the worklist), the task list, and the bulk actions on tasks.

Reads go through recoup.activity.worklist; writes through recoup.activity.task_services, which check who may
act on each task: a refusal is a 403 and writes nothing. Managers and admins may look at any collector's
worklist. Bulk forms post with htmx (CSRF token in the page's hx-headers and in the form) and get back the
list they came from; without JavaScript they post and redirect.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import ListView
from django_htmx.http import HttpResponseClientRefresh

from recoup.activity import task_services, worklist
from recoup.activity.models import Task
from recoup.core.errors import DomainError, NotAllowed
from recoup.core.htmx import is_partial, query_without_page
from recoup.users.models import MANAGE_ROLES, WRITE_ROLES, Role, User
from recoup.users.permissions import RoleRequiredMixin, user_has_role

TASK_PAGE_SIZE = 50


def workers() -> list[User]:
    """Who may own a task: active users of a role that works (not viewers)."""
    return list(User.objects.filter(is_active=True, role__in=WRITE_ROLES).order_by("username"))


class BulkForm(forms.Form):
    """Complete, snooze or reassign the ticked tasks."""

    action = forms.ChoiceField(
        choices=[("complete", "Complete"), ("snooze", "Snooze to"), ("reassign", "Reassign to")]
    )
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Date")
    owner = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True, role__in=WRITE_ROLES).order_by("username"),
        required=False,
        empty_label="— nobody (any collector) —",
        label="Owner",
    )
    back = forms.ChoiceField(choices=[("worklist", "worklist"), ("tasks", "tasks")], required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        raw = self.data.getlist("tasks") if hasattr(self.data, "getlist") else []
        try:
            data["tasks"] = [int(value) for value in raw]
        except ValueError:
            raise forms.ValidationError("Tick the tasks to act on.") from None
        if not data["tasks"]:
            raise forms.ValidationError("Tick the tasks to act on.")
        if data.get("action") == "snooze" and not data.get("due_date"):
            self.add_error("due_date", "Give the date to snooze to.")
        return data


def bulk_form(request: HttpRequest, back: str) -> BulkForm:
    """The bulk form as a page offers it: reassigning defaults to the user; only managers may leave a task
    to nobody."""
    form = BulkForm(initial={"back": back, "owner": request.user.pk})
    if not user_has_role(request.user, MANAGE_ROLES):
        form.fields["owner"].empty_label = None  # type: ignore[attr-defined]
    return form


# The worklist -----------------------------------------------------------------------------------------------


def _collector_for(request: HttpRequest) -> User:
    """The worklist's collector: the user, or (managers and admins) the one asked for with ?collector=."""
    user: User = request.user  # type: ignore[assignment]
    wanted = request.GET.get("collector") or request.POST.get("collector")
    if not wanted or wanted == str(user.pk):
        return user
    if not user_has_role(user, MANAGE_ROLES):
        raise PermissionDenied("Only managers may look at another collector's worklist.")
    try:
        return User.objects.get(pk=int(wanted))
    except (ValueError, User.DoesNotExist):
        raise PermissionDenied("No such collector.") from None


def _collectors() -> list[User]:
    people = User.objects.filter(is_active=True, role__in=(Role.COLLECTOR, Role.MANAGER, Role.ADMIN))
    return list(people.order_by("username"))


def _page(request: HttpRequest) -> int:
    try:
        return max(1, int(request.GET.get("page") or request.POST.get("page") or 1))
    except ValueError:
        return 1


def worklist_context(request: HttpRequest, collector: User, **extra: Any) -> dict[str, Any]:
    today = timezone.localdate()
    work = worklist.worklist(collector=collector, today=today, page=_page(request))
    manager = user_has_role(request.user, MANAGE_ROLES)
    return {
        "nav": "worklist",
        "today": today,
        "work": work,
        "collector": collector,
        "own": collector.pk == request.user.pk,
        "is_manager": manager,
        "collectors": _collectors() if manager else [],
        "bulk_form": extra.pop("bulk_form", None) or bulk_form(request, "worklist"),
        "may_act": user_has_role(request.user, WRITE_ROLES),
        "query": f"collector={collector.pk}" if collector.pk != request.user.pk else "",
        **extra,
    }


class WorklistView(RoleRequiredMixin, View):
    """My work today, highest score first: tasks due, promises falling due, customers needing action."""

    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest) -> HttpResponse:
        context = worklist_context(request, _collector_for(request))
        if is_partial(request):
            return render(request, "activity/partials/worklist_table.html", context)
        return render(request, "activity/worklist.html", context)


# The task list ----------------------------------------------------------------------------------------------


class TaskFilterForm(forms.Form):
    scope = forms.ChoiceField(
        choices=[("mine", "Mine"), ("team", "My team"), ("all", "All")], required=False, initial="mine"
    )
    status = forms.ChoiceField(
        choices=[("open", "Open"), ("done", "Done"), ("cancelled", "Cancelled"), ("all", "All")],
        required=False,
        initial="open",
    )


class TaskListView(RoleRequiredMixin, ListView):
    """Tasks by scope (mine, my team, all) and status, by due date."""

    template_name = "activity/task_list.html"
    context_object_name = "tasks"
    paginate_by = TASK_PAGE_SIZE

    def get_template_names(self) -> list[str]:
        if is_partial(self.request):
            return ["activity/partials/task_table.html"]
        return [self.template_name]

    def get_queryset(self) -> Any:
        self.form = TaskFilterForm(self.request.GET or None)
        scope, status = "mine", "open"
        if self.form.is_valid():
            scope = self.form.cleaned_data["scope"] or "mine"
            status = self.form.cleaned_data["status"] or "open"
        elif self.form.is_bound:
            return Task.objects.none()
        self.scope, self.status = scope, status
        return worklist.task_list(user=self.request.user, scope=scope, status=status)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            nav="tasks",
            today=timezone.localdate(),
            form=self.form,
            scope=getattr(self, "scope", "mine"),
            status=getattr(self, "status", "open"),
            list_query=query_without_page(self.request),
            bulk_form=bulk_form(self.request, "tasks"),
            may_act=user_has_role(self.request.user, WRITE_ROLES),
        )
        return context


# Bulk actions -----------------------------------------------------------------------------------------------


class TaskBulkView(RoleRequiredMixin, View):
    """POST: complete, snooze or reassign the ticked tasks, all or none; back to the list they came from."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        form = BulkForm(request.POST)
        back = request.POST.get("back") or "worklist"
        flash = ""
        error = ""
        if form.is_valid():
            data = form.cleaned_data
            try:
                done = task_services.tasks_bulk(
                    actor=request.user,
                    action=data["action"],
                    task_ids=data["tasks"],
                    today=timezone.localdate(),
                    owner=data["owner"],
                    due_date=data["due_date"],
                )
            except NotAllowed as refused:
                if not is_partial(request) or back == "tasks":
                    raise PermissionDenied(refused.message) from refused
                context = worklist_context(request, _collector_for(request), error=refused.message)
                return render(request, "activity/partials/worklist_table.html", context, status=403)
            except DomainError as refused:
                error = refused.message
            else:
                flash = _done_text(data["action"], len(done), data)
        else:
            error = " ".join(str(e) for errors in form.errors.values() for e in errors)
        if not is_partial(request):
            if error:
                messages.error(request, error)
            else:
                messages.success(request, flash)
            return redirect(self._back_url(request, back))
        if back == "tasks":  # the task list reloads, with the flash on top
            if error:
                messages.error(request, error)
            else:
                messages.success(request, flash)
            return HttpResponseClientRefresh()
        context = worklist_context(request, _collector_for(request), flash=flash, error=error)
        return render(request, "activity/partials/worklist_table.html", context, status=400 if error else 200)

    def _back_url(self, request: HttpRequest, back: str) -> str:
        if back == "tasks":
            return reverse("task-list")
        collector = request.POST.get("collector")
        url = reverse("worklist")
        return f"{url}?collector={collector}" if collector else url


def _done_text(action: str, count: int, data: dict[str, Any]) -> str:
    tasks = f"{count} task{'s' if count != 1 else ''}"
    if action == "complete":
        return f"{tasks} completed."
    if action == "snooze":
        return f"{tasks} snoozed to {data['due_date'].isoformat()}."
    owner = data["owner"]
    return f"{tasks} given to {owner.username if owner else 'any collector'}."
