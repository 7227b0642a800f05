"""Celery tasks of the activity app: thin, safe to run twice."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.utils import timezone

from recoup.activity import inbound
from recoup.activity.promise_services import promises_evaluate
from recoup.activity.task_services import tasks_check_credit_limits


@shared_task(name="recoup.activity.tasks.poll_inbound")
def poll_inbound() -> dict[str, Any]:
    """Beat's poll of the collections mailbox: each new message stored once, matched or queued. A server
    error is recorded on the Mailbox and returned, not raised (the next poll tries again)."""
    try:
        return inbound.poll_inbound().as_dict()
    except inbound.InboundNotConfigured as missing:
        return {"error": missing.message}


@shared_task(name="recoup.activity.tasks.evaluate_promises")
def evaluate_promises() -> dict[str, int]:
    """Beat's daily evaluation of the pending promises as of today (before the dunning run, so that a broken
    promise is chased again that day). Only pending promises change, each once."""
    result = promises_evaluate(actor=None, as_of=timezone.localdate())
    return {**result.counts, "tasks": result.tasks}


@shared_task(name="recoup.activity.tasks.check_credit_limits")
def check_credit_limits() -> dict[str, int]:
    """Beat's daily credit-limit check: one review task per customer over its limit, once per breach."""
    result = tasks_check_credit_limits(actor=None, today=timezone.localdate())
    return {"over": result.over, "created": result.created}
