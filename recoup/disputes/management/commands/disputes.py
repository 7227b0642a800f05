"""recoup disputes check-sla [--as-of DATE] | metrics [--as-of DATE] [--from DATE] [--to DATE] [--format]"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from recoup.core.cli import date_argument
from recoup.core.errors import DomainError
from recoup.disputes import selectors, services


class Command(BaseCommand):
    help = "Disputes: escalate those past their SLA, and print the dispute figures (docs/disputes.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        check = actions.add_parser("check-sla", help="escalate every open dispute past its SLA, once")
        check.add_argument("--as-of", type=date_argument, default=None, help="YYYY-MM-DD; default today")
        metrics = actions.add_parser("metrics", help="cycle time, SLA hit rate, open disputes, overdue share")
        metrics.add_argument("--as-of", type=date_argument, default=None, help="YYYY-MM-DD; default today")
        metrics.add_argument("--from", dest="start", type=date_argument, default=None)
        metrics.add_argument("--to", dest="end", type=date_argument, default=None)
        metrics.add_argument("--format", choices=("table", "json"), default="table")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        as_of = options["as_of"] or timezone.localdate()
        try:
            if action == "check-sla":
                marked = services.disputes_check_sla(as_of=as_of)
                self.stdout.write(f"{marked} dispute{'s' if marked != 1 else ''} past the SLA escalated.")
                return
            figures = selectors.dispute_metrics(as_of=as_of, start=options["start"], end=options["end"])
        except DomainError as refused:
            raise CommandError(refused.message) from None
        data = figures.as_dict()
        if options["format"] == "json":
            self.stdout.write(json.dumps(data, indent=2))
            return
        for key, value in data.items():
            if isinstance(value, dict):
                value = ", ".join(f"{k}: {v}" for k, v in value.items()) or "—"
            self.stdout.write(f"{key:<26} {'—' if value is None else value}")
