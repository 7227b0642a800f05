from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils import timezone

from recoup.activity.demo import demo_activity
from recoup.core.errors import DomainError
from recoup.dunning.demo import demo_dunning, dunning_reset
from recoup.insights.demo import demo_insights
from recoup.ledger.demo import (
    DEFAULT_CUSTOMERS,
    DemoLogin,
    demo_logins,
    demo_seed,
    ledger_is_empty,
    ledger_reset,
)


class Command(BaseCommand):
    help = (
        "Seed the configured database with a realistic demo ledger (two years of invoices, payments, credit "
        "notes, FX rates) and one user per role, then print the logins."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--seed", type=int, default=1, help="random seed; the same seed gives the same data"
        )
        parser.add_argument(
            "--customers",
            type=int,
            default=DEFAULT_CUSTOMERS,
            help=f"number of customers, about 35 invoices each (default {DEFAULT_CUSTOMERS})",
        )
        parser.add_argument(
            "--dunning-weeks",
            type=int,
            default=0,
            help="after seeding, a dunning run a week over this many past weeks and one today, delivered "
            "through the email backend, with a few disputes, promises and a hold (default 0: none)",
        )
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            "--reset",
            action="store_true",
            help="delete every customer, document, allocation and FX rate first",
        )
        group.add_argument(
            "--if-empty",
            action="store_true",
            help="seed only an empty ledger; otherwise print the logins and exit successfully",
        )

    def handle(
        self,
        *args: Any,
        seed: int,
        customers: int,
        reset: bool,
        if_empty: bool,
        dunning_weeks: int,
        **options: Any,
    ) -> None:
        started = time.monotonic()
        if reset:
            dunning_reset()
            deleted = ledger_reset(actor=None)
            self.stdout.write(
                "Deleted " + ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in deleted.items())
            )
        elif not ledger_is_empty():
            if if_empty:
                self.stdout.write("The ledger already holds data; left as it is.")
                self._print_logins(demo_logins())
                return
            raise CommandError(
                "The ledger already holds data. Run `recoup demo --reset` to replace it with demo "
                "data (this deletes every customer, document and allocation)."
            )
        try:
            result = demo_seed(actor=None, seed=seed, today=timezone.localdate(), customers=customers)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        counts = result.counts
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded the demo ledger on {connection.vendor} (seed {seed}, up to {result.today}) "
                f"in {time.monotonic() - started:.1f} s:"
            )
        )
        for name, count in counts.items():
            self.stdout.write(f"  {name.replace('_', ' '):<14}{count:>8,}")
        if dunning_weeks > 0:
            dunned = demo_dunning(today=result.today, weeks=dunning_weeks, seed=seed)
            self.stdout.write("Dunning: " + ", ".join(f"{n:,} {what}" for what, n in sorted(dunned.items())))
            worked = demo_activity(today=result.today, seed=seed)
            self.stdout.write(
                "Workspace: " + ", ".join(f"{n:,} {what}" for what, n in sorted(worked.items()))
            )
            insights = demo_insights(today=result.today)
            self.stdout.write("Insights: " + ", ".join(f"{n:,} {what}" for what, n in insights.items()))
        self._print_logins(result.logins)

    def _print_logins(self, logins: list[DemoLogin]) -> None:
        if not logins:
            return
        self.stdout.write("Logins (demo passwords, for this demo only):")
        for login in logins:
            password = login.password or "(existing user: password unchanged)"
            self.stdout.write(f"  {login.role:<10} {login.username:<12} {password}")
