"""Celery tasks: thin, taking ids, safe to run twice. In the embedded mode they run in-process."""

from __future__ import annotations

import logging

from celery import current_app, shared_task
from django.utils import timezone

from recoup.core.errors import DomainError
from recoup.dunning import delivery, services

BATCH = 25  # messages per delivery task: one SMTP connection each
log = logging.getLogger(__name__)


@shared_task(name="recoup.dunning.tasks.run_daily")
def run_daily() -> dict[str, object]:
    """Beat's daily run as of today, then the sends it made due. A second run today plans nothing new."""
    try:
        result = services.dunning_run(actor=None, as_of=timezone.localdate())
    except DomainError as refused:
        return {"refused": refused.message}
    dispatch.delay()
    return result.report


@shared_task(name="recoup.dunning.tasks.dispatch")
def dispatch() -> int:
    """Fan the messages due now out to the workers in batches; beat calls it every minute, so a batch lost
    with its worker goes out again once its claim's lease runs out."""
    ids = delivery.dispatch_ids()
    for start in range(0, len(ids), BATCH):
        deliver.delay(ids[start : start + BATCH])
    return len(ids)


@shared_task(name="recoup.dunning.tasks.deliver", acks_late=True, reject_on_worker_lost=True)
def deliver(message_ids: list[int]) -> dict[str, int]:
    return dict(delivery.deliver(message_ids).counts)


def send_due() -> delivery.Delivered | None:
    """After a run or a retry, as `recoup dunning run` does: in the embedded mode send what is due now, in
    this process (and say what went out); with workers, hand it to the dispatcher (None)."""
    if embedded():
        return delivery.deliver_due()
    dispatch.delay()
    return None


def embedded() -> bool:
    """Whether tasks run in-process (no broker): then callers send what is due themselves."""
    return bool(current_app.conf.task_always_eager)


def send_soon(message_ids: list[int]) -> None:
    """After a person queued messages due now (a manual email): in the embedded mode they go out in this
    process, with workers a task sends them. A failure here loses nothing: the rows stay in the outbox, where
    the dispatcher (beat, every minute) or `recoup dunning send` finds them."""
    try:
        if embedded():
            delivery.deliver(message_ids)
        else:
            deliver.delay(message_ids)
    except Exception:
        log.exception("dunning: sending messages %s right away failed; the outbox keeps them", message_ids)
