from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MANAGER = "manager", "AR manager"
    COLLECTOR = "collector", "Collector"
    RESOLVER = "resolver", "Dispute resolver"
    VIEWER = "viewer", "Viewer"


# Who may do what. Views and API endpoints name one of these sets; nothing checks a role by hand.
READ_ROLES = frozenset(Role.values)
WRITE_ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.COLLECTOR, Role.RESOLVER})
LEDGER_WRITE_ROLES = frozenset({Role.ADMIN, Role.MANAGER})
MANAGE_ROLES = frozenset({Role.ADMIN, Role.MANAGER})
# Who talks to customers: logs calls and sends emails from the collector workspace.
COLLECT_ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.COLLECTOR})
ADMIN_ROLES = frozenset({Role.ADMIN})


class RecoupUserManager(UserManager["User"]):
    def create_superuser(
        self, username: str, email: str | None = None, password: str | None = None, **extra_fields: Any
    ) -> User:
        extra_fields.setdefault("role", Role.ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    # Escalations of the team's work (a dispute past its SLA) go to this person.
    manager = models.ForeignKey(
        "User", null=True, blank=True, on_delete=models.SET_NULL, related_name="managed_teams"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members")

    objects = RecoupUserManager()  # type: ignore[misc]

    def has_role(self, roles: frozenset[str]) -> bool:
        return self.is_active and self.role in roles

    @property
    def can_write(self) -> bool:
        return self.has_role(WRITE_ROLES)

    @property
    def can_manage(self) -> bool:
        return self.has_role(MANAGE_ROLES)

    @property
    def can_collect(self) -> bool:
        return self.has_role(COLLECT_ROLES)

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Django admin is for admins only: staff status follows the role, never the other way round.
        self.is_staff = self.role == Role.ADMIN
        super().save(*args, **kwargs)
