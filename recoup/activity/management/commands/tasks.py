"""recoup tasks check-credit-limits [--as-of DATE]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from recoup.activity.task_services import tasks_check_credit_limits
from recoup.core.cli import date_argument


class Command(BaseCommand):
    help = "Tasks made by rules: a review task for each customer over its credit limit (docs/workspace.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        check = actions.add_parser(
            "check-credit-limits", help="one review task per customer over its credit limit, once per breach"
        )
        check.add_argument("--as-of", type=date_argument, default=None, help="YYYY-MM-DD; default today")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        today = options["as_of"] or timezone.localdate()
        self.stdout.write(str(tasks_check_credit_limits(actor=None, today=today)))
