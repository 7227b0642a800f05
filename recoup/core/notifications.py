"""Emails to our own users (assignments, escalations), sent through the notification outbox.

`notify` writes a row in the caller's transaction and, once that commits, asks for delivery: in the embedded
mode it is sent in-process, with workers a Celery task sends it. A row is claimed by one conditional UPDATE
before it is sent, as the dunning outbox does, and beat's minute task picks up retries and lost rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import Counter
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from recoup.core import mail
from recoup.core.models import Notification, NotificationStatus

log = logging.getLogger(__name__)


def notify(*, key: str, recipient: Any, subject: str, body: str) -> Notification | None:
    """Queue an email to `recipient` (a user); None when they have no email address. Idempotent on `key`."""
    if not getattr(recipient, "email", "") or not recipient.is_active:
        return None
    notice, created = Notification.objects.get_or_create(
        key=key[:128],
        defaults={
            "recipient": recipient,
            "to_email": recipient.email,
            "subject": subject[:255],
            "body": body,
            "message_id": mail.new_message_id("notice"),
        },
    )
    if created:
        transaction.on_commit(_request_delivery)
    return notice


def _request_delivery() -> None:
    from recoup.core import tasks  # the tasks module imports this one

    tasks.send_notifications.delay()


def _sendable(now: dt.datetime) -> Q:
    stale = now - dt.timedelta(seconds=settings.RECOUP_OUTBOX_LEASE_SECONDS)
    due = Q(status=NotificationStatus.PENDING) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    return due | Q(status=NotificationStatus.SENDING, claimed_at__lt=stale)


def deliver_due(*, now: dt.datetime | None = None) -> Counter[str]:
    """Send every notification due now; safe to run twice at once."""
    now = now or timezone.now()
    counts: Counter[str] = Counter()
    ids = list(Notification.objects.filter(_sendable(now)).order_by("id").values_list("id", flat=True))
    if not ids:
        return counts
    connection = get_connection(timeout=settings.EMAIL_TIMEOUT)
    try:
        for pk in ids:
            token = uuid.uuid4().hex
            claimed = Notification.objects.filter(_sendable(now), pk=pk).update(
                status=NotificationStatus.SENDING,
                claim_token=token,
                claimed_at=now,
                attempts=F("attempts") + 1,
            )
            if claimed:
                counts[_deliver_one(Notification.objects.get(pk=pk), token, connection)] += 1
    finally:
        connection.close()
    return counts


def _deliver_one(notice: Notification, token: str, connection: Any) -> str:
    email = EmailMessage(
        subject=notice.subject,
        body=notice.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notice.to_email],
        headers={"Message-ID": notice.message_id, "X-Recoup-Key": notice.key},
        connection=connection,
    )
    mine = Notification.objects.filter(pk=notice.pk, claim_token=token, status=NotificationStatus.SENDING)
    try:
        mail.send(email)
    except mail.Transient as exc:
        if notice.attempts >= settings.RECOUP_SMTP_MAX_ATTEMPTS:
            mine.update(status=NotificationStatus.FAILED, last_error=f"gave up: {exc}"[:2000])
            return "failed"
        delay = mail.retry_delay(
            notice.attempts, base_seconds=settings.RECOUP_SMTP_RETRY_SECONDS, cap_seconds=6 * 3600
        )
        mine.update(
            status=NotificationStatus.PENDING,
            last_error=f"attempt {notice.attempts}: {exc}"[:2000],
            next_attempt_at=timezone.now() + dt.timedelta(seconds=delay),
        )
        connection.close()  # it may be broken: the next send opens a fresh one
        return "retry"
    except mail.Permanent as exc:
        mine.update(status=NotificationStatus.FAILED, last_error=str(exc)[:2000])
        return "failed"
    mine.update(status=NotificationStatus.SENT, sent_at=timezone.now(), last_error="")
    return "sent"
