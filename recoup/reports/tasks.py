"""Celery tasks of reports: thin, safe to run twice. In the embedded mode they run in-process."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone

from recoup.core.errors import DomainError
from recoup.reports import snapshots, summary


@shared_task(name="recoup.reports.tasks.snapshot_month_end")
def snapshot_month_end() -> dict[str, object]:
    """Beat's run on the 1st of each month: the snapshot of the month that ended yesterday (rebuilt if it
    exists, so a second run replaces it with the same figures)."""
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    try:
        built = snapshots.rebuild(1, through=yesterday)
    except DomainError as refused:
        return {"refused": refused.message}
    return {"month_end": built[0].month_end.isoformat(), "rows": built[0].rows, "total": str(built[0].total)}


@shared_task(name="recoup.reports.tasks.weekly_summary")
def weekly_summary() -> dict[str, object]:
    """Beat's weekly run: last week's summary to every manager and admin, once per ISO week each."""
    try:
        sent = summary.send_weekly_summary(as_of=timezone.localdate())
    except DomainError as refused:
        return {"refused": refused.message}
    return {"week": sent.week, "queued": sent.queued, "already": sent.already, "off": sent.off}
