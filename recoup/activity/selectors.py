"""Reads of a customer's activity."""

from __future__ import annotations

from django.db.models import QuerySet

from recoup.activity.models import Task, TaskStatus, TimelineEntry
from recoup.activity.timeline import TimelineItem, TimelinePage, customer_activity  # noqa: F401 (the merged timeline)
from recoup.ledger.models import Customer


def customer_timeline(*, customer: Customer, limit: int = 50) -> QuerySet[TimelineEntry]:
    return (
        TimelineEntry.objects.filter(customer=customer)
        .prefetch_related("invoices")
        .order_by("-occurred_at", "-id")[:limit]
    )


def customer_open_tasks(*, customer: Customer) -> QuerySet[Task]:
    return (
        Task.objects.filter(customer=customer, status=TaskStatus.OPEN)
        .select_related("owner")
        .prefetch_related("invoices")
        .order_by("due_date", "id")
    )
