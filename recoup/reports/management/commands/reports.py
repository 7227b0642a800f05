"""recoup reports snapshots [--months 36] [--through DATE] | weekly-summary [--as-of DATE]"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from recoup.core.cli import date_argument
from recoup.core.errors import DomainError
from recoup.core.templatetags.money import money
from recoup.reports import snapshots, summary


def positive_int(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from exc
    if not 1 <= value <= 600:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 1 and 600")
    return value


class Command(BaseCommand):
    help = "Reports: rebuild the month-end aging snapshots, send the weekly summary (docs/reports.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        build = actions.add_parser(
            "snapshots", help="rebuild the month-end aging snapshots from the ledger, replacing stored ones"
        )
        build.add_argument(
            "--months", type=positive_int, default=snapshots.DEFAULT_MONTHS, help="how many month-ends (36)"
        )
        build.add_argument(
            "--through",
            type=date_argument,
            default=None,
            help="YYYY-MM-DD: the newest month-end on or before it (default: yesterday)",
        )
        weekly = actions.add_parser("weekly-summary", help="email last week's summary to managers and admins")
        weekly.add_argument(
            "--as-of",
            type=date_argument,
            default=None,
            help="YYYY-MM-DD: summarise the ISO week before this date's week (default: today)",
        )

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            if action == "snapshots":
                self._snapshots(options["months"], options["through"])
            else:
                self._weekly_summary(options["as_of"])
        except DomainError as refused:
            raise CommandError(refused.message) from None

    def _snapshots(self, months: int, through: dt.date | None) -> None:
        started = time.perf_counter()
        built = snapshots.rebuild(months, through=through)
        base = settings.BASE_CURRENCY
        for b in built:
            rows = f"{b.rows} row{'s' if b.rows != 1 else ''}"
            self.stdout.write(f"{b.month_end}  {rows:>9}  {money(b.total, base):>20}")
        seconds = time.perf_counter() - started
        span = f"{built[0].month_end} to {built[-1].month_end}" if len(built) > 1 else f"{built[0].month_end}"
        plural = "s" if len(built) != 1 else ""
        self.stdout.write(f"Rebuilt {len(built)} month-end snapshot{plural} ({span}) in {seconds:.2f} s.")

    def _weekly_summary(self, as_of: dt.date | None) -> None:
        result = summary.send_weekly_summary(as_of=as_of)
        self.stdout.write(result.message)
