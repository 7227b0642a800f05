"""recoup promises evaluate [--as-of DATE] [--format table|json]"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from recoup.activity.promise_services import promises_evaluate
from recoup.core.cli import date_argument


class Command(BaseCommand):
    help = "Promises to pay: evaluate the pending ones against the payments (docs/workspace.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        evaluate = actions.add_parser(
            "evaluate", help="find each pending promise kept, partially kept, broken or still pending"
        )
        evaluate.add_argument("--as-of", type=date_argument, default=None, help="YYYY-MM-DD; default today")
        evaluate.add_argument("--format", choices=("table", "json"), default="table")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        as_of = options["as_of"] or timezone.localdate()
        result = promises_evaluate(actor=None, as_of=as_of)
        if options["format"] == "json":
            counts = {k: result.counts[k] for k in COUNTED}
            data = {"as_of": as_of.isoformat(), **counts, "tasks": result.tasks}
            self.stdout.write(json.dumps(data, indent=2))
            return
        self.stdout.write(str(result))


COUNTED = ("kept", "partially_kept", "broken", "pending")
