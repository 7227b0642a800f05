"""Role checks for web views and API endpoints. Each one declares the roles it lets in."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import AccessMixin
from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import SAFE_METHODS, BasePermission

from recoup.users.models import READ_ROLES, WRITE_ROLES


def user_has_role(user: Any, roles: frozenset[str]) -> bool:
    return bool(user and user.is_authenticated and user.has_role(roles))


class RolePermission(BasePermission):
    """Reads need `read_roles` (every role by default); writes need `write_roles` (no viewer by default)."""

    message = "Your role does not allow this."

    def has_permission(self, request: Any, view: Any) -> bool:
        if request.method in SAFE_METHODS:
            return user_has_role(request.user, getattr(view, "read_roles", READ_ROLES))
        return user_has_role(request.user, getattr(view, "write_roles", WRITE_ROLES))


class RoleRequiredMixin(AccessMixin):
    """For class-based views: GET/HEAD need `read_roles`; every other method needs `write_roles`."""

    read_roles: frozenset[str] = READ_ROLES
    write_roles: frozenset[str] = WRITE_ROLES
    raise_exception = False

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        roles = self.read_roles if request.method in ("GET", "HEAD", "OPTIONS") else self.write_roles
        if not user_has_role(request.user, roles):
            self.raise_exception = True
            return self.handle_no_permission()
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
