"""What every outgoing email shares: Message-IDs, how an SMTP failure is classed, and the retry backoff.

The dunning outbox and the notification outbox both send through `send`, so a 4xx is retried and a 5xx is
final the same way everywhere.
"""

from __future__ import annotations

import smtplib
import uuid
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMessage


class Transient(Exception):
    """Worth another try later: the server was busy, down or answered 4xx."""


class Permanent(Exception):
    """Another try would fail the same way: a 5xx, no recipient, a template that cannot render."""


def message_id_domain() -> str:
    """RECOUP_MESSAGE_ID_DOMAIN, else the domain of DEFAULT_FROM_EMAIL: replies come back to that domain."""
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return settings.RECOUP_MESSAGE_ID_DOMAIN or address.rpartition("@")[2] or "localhost"


def new_message_id(kind: str, domain: str | None = None) -> str:
    """A Message-ID fixed before the first attempt, so a retry carries the same one."""
    return f"<{kind}.{uuid.uuid4().hex}@{domain or message_id_domain()}>"


def retry_delay(attempt: int, *, base_seconds: int, cap_seconds: int) -> int:
    """Exponential backoff: base, 2×base, 4×base, … after the 1st, 2nd, 3rd failed attempt, at most cap."""
    return int(min(cap_seconds, base_seconds * 2 ** max(attempt - 1, 0)))


def send(email: EmailMessage) -> None:
    """Send one email; a failure is raised as Transient or Permanent."""
    try:
        email.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        text = "; ".join(f"{addr}: {code} {msg!r}" for addr, (code, msg) in exc.recipients.items())
        raise (Transient if any(400 <= c < 500 for c in codes) else Permanent)(
            f"recipients refused: {text}"
        ) from exc
    except smtplib.SMTPResponseException as exc:
        error = (
            exc.smtp_error.decode(errors="replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        raise (Transient if 400 <= exc.smtp_code < 500 else Permanent)(
            f"SMTP {exc.smtp_code}: {error}"
        ) from exc
    except OSError as exc:  # refused or dropped connections, timeouts, and every other SMTPException
        raise Transient(f"{type(exc).__name__}: {exc}") from exc
