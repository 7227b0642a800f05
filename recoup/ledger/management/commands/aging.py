from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from recoup.core.cli import date_argument
from recoup.core.errors import DomainError
from recoup.ledger.aging import aging_report, report_as_csv, report_as_dict, report_as_table


class Command(BaseCommand):
    help = "Aging of open receivables as of a date, in the base currency."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", type=date_argument, default=None, help="YYYY-MM-DD (default: today)")
        parser.add_argument("--by", choices=["customer", "total"], default="customer")
        parser.add_argument("--basis", choices=["due", "invoice"], default="due")
        parser.add_argument(
            "--buckets", default="30,60,90,120", help="bucket bounds in days, e.g. 30,60,90,120"
        )
        parser.add_argument("--format", choices=["table", "csv", "json"], default="table")

    def handle(
        self,
        *args: Any,
        as_of: dt.date | None,
        by: str,
        basis: str,
        buckets: str,
        format: str,
        **options: Any,
    ) -> None:
        try:
            report = aging_report(as_of=as_of or timezone.localdate(), by=by, basis=basis, buckets=buckets)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        if format == "csv":
            report_as_csv(report, self.stdout)
        elif format == "json":
            self.stdout.write(json.dumps(report_as_dict(report), indent=2))
        else:
            self.stdout.write(report_as_table(report))
