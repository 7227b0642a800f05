"""What Recoup's management commands share."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import CommandError


def as_of_argument(text: str) -> dt.date:
    """argparse `type=` of an `--as-of YYYY-MM-DD` option: anything else is a clear error, not a traceback."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"--as-of {text!r} is not a date (expected YYYY-MM-DD)") from exc
