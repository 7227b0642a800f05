"""What Recoup's management commands share."""

from __future__ import annotations

import argparse
import datetime as dt


def date_argument(text: str) -> dt.date:
    """argparse `type=` of a YYYY-MM-DD option. An ArgumentTypeError, not a CommandError: argparse runs it
    before Django's error handling, so only its own error becomes a clear message naming the option on the
    command line (and a CommandError under call_command), never a traceback."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (expected YYYY-MM-DD)") from exc
