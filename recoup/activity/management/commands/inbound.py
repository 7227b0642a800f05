"""recoup inbound poll [--limit N] [--format table|json]"""

from __future__ import annotations

import argparse
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recoup.activity import inbound


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


class Command(BaseCommand):
    help = "Inbound email: read the collections mailbox over IMAP and match what arrived (docs/workspace.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        poll = actions.add_parser(
            "poll", help="store each new message of IMAP_FOLDER once, matched to a customer or queued"
        )
        poll.add_argument(
            "--limit",
            type=positive,
            default=inbound.POLL_LIMIT,
            help=f"at most this many messages (default {inbound.POLL_LIMIT}); the next poll goes on",
        )
        poll.add_argument("--format", choices=("table", "json"), default="table")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            result = inbound.Poller(limit=options["limit"]).poll()
        except inbound.InboundNotConfigured as missing:
            raise CommandError(missing.message) from None
        if options["format"] == "json":
            self.stdout.write(json.dumps(result.as_dict(), indent=2))
        elif not result.error:
            self.stdout.write(result.summary())
        if result.error:
            raise CommandError(f"Polling {result.key} failed: {result.error}")
