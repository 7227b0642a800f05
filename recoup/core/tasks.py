"""Celery tasks of the shared parts: sending the notification outbox."""

from __future__ import annotations

from celery import shared_task

from recoup.core import notifications


@shared_task(name="recoup.core.tasks.send_notifications")
def send_notifications() -> dict[str, int]:
    """Send the notifications due; beat calls it every minute for retries and rows a dead worker held."""
    return dict(notifications.deliver_due())
