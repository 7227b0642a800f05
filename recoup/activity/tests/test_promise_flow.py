"""End to end over real SMTP: a pending promise pauses dunning until its date plus grace; a payment recorded
through the ledger evaluates it; a broken promise makes a task for its owner and the next run chases what is
still open; a kept one leaves nothing to chase."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command

from recoup.activity.models import Promise, PromiseStatus, Task, TaskKind
from recoup.activity.services import promise_create
from recoup.activity.tests.workspace_support import pay, task_rules
from recoup.dunning import delivery
from recoup.dunning.models import OutboundMessage
from recoup.dunning.services import dunning_run
from recoup.users.models import Role

pytestmark = pytest.mark.django_db
D = dt.date
DUE = D(2026, 3, 2)  # a Monday
__all__ = ["task_rules"]


@pytest.fixture
def clock():
    with time_machine.travel(dt.datetime(2026, 3, 5, 12, 0, tzinfo=dt.UTC), tick=True) as traveller:
        yield traveller


def on(clock, day: dt.date) -> None:
    """Noon UTC on `day`: after the 09:00 send time of a customer in UTC."""
    clock.move_to(dt.datetime(day.year, day.month, day.day, 12, 0, tzinfo=dt.UTC))


def run(as_of: dt.date) -> dict:
    report = dunning_run(actor=None, as_of=as_of).report
    delivery.deliver_due()
    return report


def test_a_broken_promise_resumes_dunning_and_gives_its_owner_a_task(
    books, smtp, clock, task_rules, make_user, django_capture_on_commit_callbacks
):
    cara = make_user(Role.COLLECTOR, "cara")
    customer = books.customer("PROM", collector=cara)
    invoice = books.invoice(customer, DUE, "400.00", external_id="P-1")
    on(clock, DUE + dt.timedelta(days=3))
    promise = promise_create(
        actor=cara,
        customer=customer,
        amount="400.00",
        promised_date=DUE + dt.timedelta(days=5),
        invoices=[invoice],
    )

    paused = run(DUE + dt.timedelta(days=3))
    on(clock, DUE + dt.timedelta(days=4))
    with django_capture_on_commit_callbacks(execute=True):
        pay(invoice, "100.00", DUE + dt.timedelta(days=4))  # the ledger's hook evaluates: still pending
    promise.refresh_from_db()
    assert (promise.status, promise.paid_amount) == (PromiseStatus.PENDING, Decimal("100.00"))
    on(clock, DUE + dt.timedelta(days=8))
    last_day = run(DUE + dt.timedelta(days=8))  # date + grace: still paused

    assert paused["skipped"] == {"promised": 1} and last_day["skipped"] == {"promised": 1}
    assert smtp.received == [] and not OutboundMessage.objects.exists()
    on(clock, DUE + dt.timedelta(days=9))
    out = StringIO()
    call_command("promises", "evaluate", stdout=out)  # as of today: the day after the grace period
    resumed = run(DUE + dt.timedelta(days=9))

    assert "1 broken" in out.getvalue()
    promise.refresh_from_db()
    assert (promise.status, promise.resolved_on) == (PromiseStatus.BROKEN, DUE + dt.timedelta(days=9))
    [task] = Task.objects.all()
    assert (task.kind, task.owner, task.due_date) == (TaskKind.CALL, cara, DUE + dt.timedelta(days=9))
    assert resumed["messages_total"] == 1
    [mail] = smtp.received
    assert mail.rcpt_tos == ["ap@example.com"]
    assert "P-1  due 2026-03-02 (9 days overdue)  300.00 USD" in mail.text


def test_a_kept_promise_leaves_nothing_to_chase(
    books, smtp, clock, task_rules, django_capture_on_commit_callbacks
):
    customer = books.customer("KEPT")
    invoice = books.invoice(customer, DUE, "400.00")
    on(clock, DUE + dt.timedelta(days=3))
    promise_create(actor=None, customer=customer, amount="400.00", promised_date=DUE + dt.timedelta(days=5))
    on(clock, DUE + dt.timedelta(days=4))

    with django_capture_on_commit_callbacks(execute=True):
        pay(invoice, "400.00", DUE + dt.timedelta(days=4))
    on(clock, DUE + dt.timedelta(days=9))
    report = run(DUE + dt.timedelta(days=9))

    assert Promise.objects.get().status == PromiseStatus.KEPT
    assert report["messages_total"] == 0 and smtp.received == []
    assert not Task.objects.exists()
