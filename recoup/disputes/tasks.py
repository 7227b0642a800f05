"""Celery tasks of disputes: thin, safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from recoup.disputes import services


@shared_task(name="recoup.disputes.tasks.check_sla")
def check_sla() -> int:
    """Beat's daily SLA check as of today: each dispute past its SLA is escalated once."""
    return services.disputes_check_sla(as_of=timezone.localdate())
