"""recoup notifications send: deliver the emails to Recoup's users that are due (new ones and retries)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from recoup.core import notifications


class Command(BaseCommand):
    help = "Send the notification emails due now (assignments, escalations), retrying failed ones."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("send", help="send every notification due now")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        counts = notifications.deliver_due()
        self.stdout.write(
            "Notifications: "
            + (", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "nothing due")
        )
