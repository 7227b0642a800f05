from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recoup.users.models import User
from recoup.users.services import token_create, token_revoke


class Command(BaseCommand):
    help = "Create or revoke a user's API token: recoup token create --user NAME"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["create", "revoke"])
        parser.add_argument("--user", required=True, help="username")

    def handle(self, *args: Any, action: str, user: str, **options: Any) -> None:
        try:
            target = User.objects.get(username=user)
        except User.DoesNotExist as exc:
            raise CommandError(f"No user named {user!r}.") from exc
        if not target.is_active:
            raise CommandError(f"User {user!r} is inactive.")
        if action == "create":
            self.stdout.write(token_create(user=target, actor=None).key)
        else:
            count = token_revoke(user=target, actor=None)
            self.stdout.write(f"Revoked {count} token(s) for {user}.")
