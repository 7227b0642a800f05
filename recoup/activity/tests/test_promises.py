"""Promise evaluation against the ledger: exact boundaries (paid on the date, on date + grace, the day after),
partial payments within and outside the tolerance, reversals, other currencies, payments counted once, what
a decision writes (timeline, event, task), idempotence, cancelling, and the hooks and commands that run it."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from recoup.activity import tasks as celery_tasks
from recoup.activity.models import EntryKind, Promise, PromiseStatus, Task, TaskKind, TimelineEntry
from recoup.activity.promise_services import promise_cancel, promises_evaluate
from recoup.activity.tests.workspace_support import DATE, DEADLINE, pay, promise, reverse, task_rules
from recoup.core.errors import DomainError, NotAllowed
from recoup.core.models import Event
from recoup.dunning.planning import promises as dunning_pauses
from recoup.ledger import services as ledger
from recoup.ledger.imports import import_file
from recoup.users.models import Role

pytestmark = pytest.mark.django_db
D = dt.date
DAY_AFTER = DEADLINE + dt.timedelta(days=1)
__all__ = ["task_rules"]


@pytest.fixture(autouse=True)
def rules_installed(task_rules):
    return task_rules


def status(p: Promise) -> tuple[str, Decimal, dt.date | None, dt.date | None]:
    p.refresh_from_db()
    return p.status, p.paid_amount, p.evaluated_on, p.resolved_on


# Boundaries -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("paid_on", "as_of", "expected"),
    [
        (DATE, DATE, (PromiseStatus.KEPT, Decimal("100.00"), DATE, DATE)),  # paid on the promised date
        (DEADLINE, DEADLINE, (PromiseStatus.KEPT, Decimal("100.00"), DEADLINE, DEADLINE)),  # on date + grace
        (
            DEADLINE,
            DEADLINE - dt.timedelta(days=1),
            (PromiseStatus.PENDING, Decimal(0), D(2026, 3, 12), None),
        ),
        (DAY_AFTER, DAY_AFTER, (PromiseStatus.BROKEN, Decimal(0), DAY_AFTER, DAY_AFTER)),  # the day after
        (D(2026, 2, 27), DATE, (PromiseStatus.PENDING, Decimal(0), DATE, None)),  # before it was made
    ],
)
def test_payments_count_from_the_day_the_promise_was_made_to_its_date_plus_grace(
    books, paid_on, as_of, expected
):
    customer = books.customer("P")
    invoice = books.invoice(customer, D(2026, 2, 1), "100.00")
    made = promise(customer, invoices=[invoice])
    pay(invoice, "100.00", paid_on)

    promises_evaluate(actor=None, as_of=as_of)

    assert status(made) == expected


def test_a_pending_promise_stays_pending_to_the_last_day_of_grace_then_breaks(books):
    customer = books.customer("LATE")
    invoice = books.invoice(customer, D(2026, 2, 1), "100.00")
    made = promise(customer, invoices=[invoice])

    assert promises_evaluate(actor=None, as_of=DEADLINE).counts == {"pending": 1}
    assert status(made) == (PromiseStatus.PENDING, Decimal(0), DEADLINE, None)
    assert not Task.objects.exists()
    result = promises_evaluate(actor=None, as_of=DAY_AFTER)

    assert (dict(result.counts), result.tasks) == ({"broken": 1}, 1)
    assert status(made) == (PromiseStatus.BROKEN, Decimal(0), DAY_AFTER, DAY_AFTER)


@pytest.mark.parametrize(
    ("paid", "expected"),
    [
        ("90.00", PromiseStatus.PARTIALLY_KEPT),  # 10 % short: within the default tolerance
        ("89.99", PromiseStatus.BROKEN),
    ],
)
def test_a_partial_payment_is_partially_kept_within_the_tolerance_after_the_deadline(books, paid, expected):
    customer = books.customer("PART")
    invoice = books.invoice(customer, D(2026, 2, 1), "100.00")
    made = promise(customer, invoices=[invoice])
    pay(invoice, paid, D(2026, 3, 9))

    promises_evaluate(actor=None, as_of=DEADLINE)
    assert status(made) == (PromiseStatus.PENDING, Decimal(paid), DEADLINE, None)
    promises_evaluate(actor=None, as_of=DAY_AFTER)

    assert status(made) == (expected, Decimal(paid), DAY_AFTER, DAY_AFTER)
    assert Task.objects.count() == (1 if expected == PromiseStatus.BROKEN else 0)


def test_the_tolerance_comes_from_the_setting_or_the_promise(books, settings):
    settings.RECOUP_PROMISE_TOLERANCE_PERCENT = 25
    customer = books.customer("TOL")
    first = books.invoice(customer, D(2026, 2, 1), "100.00")
    second = books.invoice(customer, D(2026, 2, 1), "100.00")
    loose = promise(customer, invoices=[first])
    strict = promise(customer, "20.00", invoices=[second], tolerance_percent=0)
    pay(first, "75.00", D(2026, 3, 2))
    pay(second, "19.99", D(2026, 3, 3))

    promises_evaluate(actor=None, as_of=DAY_AFTER)

    assert (loose.tolerance_percent, strict.tolerance_percent) == (Decimal(25), Decimal(0))
    assert status(loose)[:2] == (PromiseStatus.PARTIALLY_KEPT, Decimal("75.00"))
    assert status(strict)[:2] == (PromiseStatus.BROKEN, Decimal("19.99"))
    with pytest.raises(DomainError, match="percentage from 0 to 100"):
        promise(customer, tolerance_percent=101)


def test_a_reversed_payment_does_not_keep_a_promise(books):
    customer = books.customer("REV")
    invoice = books.invoice(customer, D(2026, 2, 1), "100.00")
    bounced = promise(customer, invoices=[invoice])
    payment = pay(invoice, "100.00", D(2026, 3, 5))
    reverse(payment, D(2026, 3, 8))  # the cheque bounced before anyone evaluated

    promises_evaluate(actor=None, as_of=DAY_AFTER)

    assert status(bounced) == (PromiseStatus.BROKEN, Decimal(0), DAY_AFTER, DAY_AFTER)


def test_a_reversal_after_the_deadline_leaves_what_stood_on_it(books):
    customer = books.customer("REV2")
    invoice = books.invoice(customer, D(2026, 2, 1), "100.00")
    made = promise(customer, invoices=[invoice])
    payment = pay(invoice, "100.00", D(2026, 3, 5))
    reverse(payment, D(2026, 3, 20))

    promises_evaluate(actor=None, as_of=D(2026, 3, 21))

    assert status(made)[:2] == (PromiseStatus.KEPT, Decimal("100.00"))


def test_a_promise_without_invoices_covers_all_the_customers_and_one_with_invoices_only_those(books):
    customer = books.customer("COVER")
    first = books.invoice(customer, D(2026, 2, 1), "60.00")
    second = books.invoice(customer, D(2026, 2, 2), "60.00")
    whole = promise(customer, "100.00")
    named = promise(customer, "50.00", invoices=[first], promised_date=D(2026, 3, 11))
    other = books.customer("OTHER")
    pay(books.invoice(other, D(2026, 2, 1), "500.00"), "500.00", D(2026, 3, 2))  # not this customer's
    pay(second, "60.00", D(2026, 3, 3))
    pay(first, "60.00", D(2026, 3, 4))

    promises_evaluate(actor=None, as_of=D(2026, 3, 20))

    # The whole-account promise (earlier deadline) takes 60 + 40 of the 60 paid to `first`; 20 is left for
    # the promise on `first`, so no payment counts twice.
    assert status(whole)[:2] == (PromiseStatus.KEPT, Decimal("100.00"))
    assert status(named)[:2] == (PromiseStatus.BROKEN, Decimal("20.00"))


def test_payments_decided_promises_took_are_not_counted_again_by_a_later_evaluation(books):
    customer = books.customer("TWICE")
    invoice = books.invoice(customer, D(2026, 2, 1), "300.00")
    first = promise(customer, "100.00", invoices=[invoice])
    pay(invoice, "100.00", D(2026, 3, 2))
    promises_evaluate(actor=None, as_of=D(2026, 3, 2))
    assert status(first)[0] == PromiseStatus.KEPT
    second = promise(customer, "100.00", invoices=[invoice], promised_date=D(2026, 3, 20))

    promises_evaluate(actor=None, as_of=D(2026, 3, 5))

    assert status(second) == (PromiseStatus.PENDING, Decimal(0), D(2026, 3, 5), None)


def test_payments_in_another_currency_count_converted_to_the_promise_currency(books):
    ledger.fx_rate_set(actor=None, currency="EUR", date=D(2026, 1, 1), rate=Decimal("1.08"))
    customer = books.customer("FX")
    invoice = books.invoice(customer, D(2026, 2, 1), "200.00")
    euros = promise(customer, "100.00", currency="EUR", invoices=[invoice])
    pay(invoice, "107.99", D(2026, 3, 2))
    promises_evaluate(actor=None, as_of=D(2026, 3, 2))
    assert status(euros)[:2] == (PromiseStatus.PENDING, Decimal("99.99"))
    pay(invoice, "0.01", D(2026, 3, 3))

    promises_evaluate(actor=None, as_of=D(2026, 3, 3))

    assert status(euros)[:2] == (PromiseStatus.KEPT, Decimal("100.00"))


# What a decision writes -------------------------------------------------------------------------------------


def test_a_kept_promise_gets_a_timeline_entry_and_an_event_and_no_task(books, collector):
    customer = books.customer("KEPT", collector=collector)
    invoice = books.invoice(customer, D(2026, 2, 1), "100.00")
    made = promise(customer, invoices=[invoice], actor=collector)
    pay(invoice, "100.00", D(2026, 3, 4))

    first = promises_evaluate(actor=None, as_of=D(2026, 3, 4))
    again = promises_evaluate(actor=None, as_of=D(2026, 3, 5))

    assert (dict(first.counts), dict(again.counts)) == ({"kept": 1}, {})
    entry = TimelineEntry.objects.filter(customer=customer, kind=EntryKind.PROMISE).order_by("id").last()
    assert (entry.title, entry.status, entry.source_id) == (
        "Promise kept: 100.00 USD paid",
        PromiseStatus.KEPT,
        str(made.pk),
    )
    assert list(entry.invoices.all()) == [invoice]
    event = Event.objects.get(verb="promise.kept")
    assert event.data == {"from": "pending", "to": "kept", "paid": "100.00", "as_of": "2026-03-04"}
    assert not Task.objects.exists()


def test_a_broken_promise_makes_one_task_for_its_owner_and_lets_dunning_resume(books, make_user):
    collector = make_user(Role.COLLECTOR, "cara")
    maker = make_user(Role.COLLECTOR, "mo")
    customer = books.customer("BROKE", collector=collector)
    invoice = books.invoice(customer, D(2026, 2, 1), "100.00")
    made = promise(customer, invoices=[invoice], actor=maker)
    pay(invoice, "40.00", D(2026, 3, 4))
    assert dunning_pauses(DEADLINE, [customer.pk]) == (set(), {invoice.pk})

    promises_evaluate(actor=None, as_of=DAY_AFTER)
    promises_evaluate(actor=None, as_of=DAY_AFTER + dt.timedelta(days=1))

    assert made.owner == maker
    [task] = Task.objects.all()
    assert (task.kind, task.owner, task.role, task.due_date, task.status, task.source_key) == (
        TaskKind.CALL,
        maker,
        "",
        DAY_AFTER,
        "open",
        f"broken_promise:{made.pk}",
    )
    assert task.title == "Broken promise: 100.00 USD by 2026-03-10 (BROKE Ltd)"
    assert task.description == (
        "BROKE Ltd promised 100.00 USD by 2026-03-10 (grace to 2026-03-13) and paid 40.00 USD. Dunning "
        "resumes on what it covered.\nAssigned to mo: named by the rule's subject."
    )
    assert list(task.invoices.all()) == [invoice]
    titles = list(
        TimelineEntry.objects.filter(customer=customer).order_by("id").values_list("title", flat=True)
    )
    assert titles == [
        "Promise to pay 100.00 USD by 2026-03-10",
        "Promise broken: 40.00 USD of 100.00 USD paid",
        "Task: Broken promise: 100.00 USD by 2026-03-10 (BROKE Ltd)",
    ]
    assert dunning_pauses(DEADLINE, [customer.pk]) == (set(), set())  # no pending promise pauses it now


def test_a_broken_promise_without_owner_goes_to_the_customers_collector(books, collector):
    customer = books.customer("ORPHAN")
    invoice = books.invoice(customer, D(2026, 2, 1), "100.00")
    made = promise(customer, invoices=[invoice])  # the system recorded it, and nobody collects yet
    ledger.customer_update(actor=None, customer=customer, collector=collector)

    promises_evaluate(actor=None, as_of=DAY_AFTER)

    assert made.owner is None
    assert Task.objects.get().owner == collector


def test_an_inactive_broken_promise_rule_makes_no_task(books, task_rules):
    task_rules["broken_promise"].is_active = False
    task_rules["broken_promise"].save()
    customer = books.customer("QUIET")
    made = promise(customer)

    promises_evaluate(actor=None, as_of=DAY_AFTER)

    assert status(made)[0] == PromiseStatus.BROKEN
    assert not Task.objects.exists()


def test_promises_made_after_the_as_of_date_or_of_other_customers_are_left_alone(books):
    customer = books.customer("FUTURE")
    later = promise(customer, made_on=D(2026, 4, 1), promised_date=D(2026, 4, 2))
    elsewhere = promise(books.customer("ELSE"))

    result = promises_evaluate(actor=None, as_of=D(2026, 3, 20), customer_ids=[customer.pk])

    assert dict(result.counts) == {}
    assert status(later) == (PromiseStatus.PENDING, Decimal(0), None, None)
    assert status(elsewhere) == (PromiseStatus.PENDING, Decimal(0), None, None)


# Recording and cancelling -----------------------------------------------------------------------------------


def test_promise_create_records_the_day_it_was_made_and_who_follows_it_up(books, collector, make_user, clock):
    maker = make_user(Role.COLLECTOR, "mo")
    customer = books.customer("NEW", collector=collector)

    by_system = promise(customer, made_on=None)
    by_person = promise(customer, actor=maker, made_on=None)

    assert (by_system.made_on, by_system.owner, by_system.created_by) == (D(2026, 6, 1), collector, None)
    assert (by_person.owner, by_person.created_by, by_person.tolerance_percent) == (maker, maker, Decimal(10))


@pytest.fixture
def clock():
    import time_machine

    with time_machine.travel(dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC), tick=False) as traveller:
        yield traveller


def test_cancelling_a_pending_promise_resumes_dunning_and_only_its_people_or_managers_may(
    books, make_user, manager, clock
):
    maker = make_user(Role.COLLECTOR, "mo")
    stranger = make_user(Role.COLLECTOR, "sam")
    viewer = make_user(Role.VIEWER, "vic")
    customer = books.customer("CANCEL")
    invoice = books.invoice(customer, D(2026, 2, 1), "100.00")
    made = promise(customer, invoices=[invoice], actor=maker)

    for refused in (stranger, viewer):
        with pytest.raises(NotAllowed):
            promise_cancel(actor=refused, promise=made)
    assert status(made)[0] == PromiseStatus.PENDING and not Event.objects.filter(verb="promise.cancelled")
    promise_cancel(actor=maker, promise=made, reason=" Recorded twice ")

    assert status(made) == (PromiseStatus.CANCELLED, Decimal(0), None, D(2026, 6, 1))
    assert dunning_pauses(DATE, [customer.pk]) == (set(), set())
    entry = TimelineEntry.objects.filter(customer=customer).order_by("id").last()
    assert (entry.title, entry.body) == ("Promise cancelled: 100.00 USD by 2026-03-10", "Recorded twice")
    assert Event.objects.get(verb="promise.cancelled").data["reason"] == "Recorded twice"
    with pytest.raises(DomainError, match="this one is cancelled"):
        promise_cancel(actor=manager, promise=made)
    other = promise(customer, actor=maker)
    assert promise_cancel(actor=manager, promise=other).status == PromiseStatus.CANCELLED


# When it runs -----------------------------------------------------------------------------------------------


def evaluates_promises(callback) -> bool:
    return getattr(callback, "func", callback) is ledger.evaluate_promises


def test_a_payment_recorded_through_the_ledger_evaluates_the_customers_promises_after_commit(
    books, django_capture_on_commit_callbacks, clock
):
    customer = books.customer("HOOK")
    invoice = books.invoice(customer, D(2026, 5, 1), "100.00")
    made = promise(customer, invoices=[invoice], made_on=D(2026, 5, 30), promised_date=D(2026, 6, 3))
    untouched = promise(books.customer("AWAY"), made_on=D(2026, 5, 30), promised_date=D(2026, 6, 3))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        pay(invoice, "100.00", D(2026, 6, 1))

    assert len([c for c in callbacks if evaluates_promises(c)]) == 1
    assert status(made) == (PromiseStatus.KEPT, Decimal("100.00"), D(2026, 6, 1), D(2026, 6, 1))
    assert status(untouched)[2] is None  # another customer's: not evaluated


def test_a_payments_import_evaluates_every_pending_promise_after_commit(
    books, tmp_path: Path, django_capture_on_commit_callbacks, clock
):
    customer = books.customer("IMP")
    invoice = books.invoice(customer, D(2026, 5, 1), "250.00", external_id="IMP-1")
    made = promise(
        customer, "250.00", invoices=[invoice], made_on=D(2026, 5, 30), promised_date=D(2026, 6, 3)
    )
    csv = tmp_path / "payments.csv"
    csv.write_text("external_id,customer,date,amount,invoice\nPAY-IMP,IMP,2026-06-01,250.00,IMP-1\n")

    with django_capture_on_commit_callbacks(execute=True):
        import_file(kind="payments", path=csv, dry_run=True)
    assert status(made)[0] == PromiseStatus.PENDING  # a dry run writes nothing and evaluates nothing
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        import_file(kind="payments", path=csv)

    assert len([c for c in callbacks if evaluates_promises(c)]) == 1
    assert status(made)[:2] == (PromiseStatus.KEPT, Decimal("250.00"))


def test_the_command_and_the_beat_task_evaluate_as_of_their_day(books, clock):
    customer = books.customer("CMD")
    invoice = books.invoice(customer, D(2026, 2, 1), "100.00")
    kept = promise(customer, invoices=[invoice])
    broken = promise(customer, "50.00", promised_date=D(2026, 3, 12))
    pay(invoice, "100.00", DATE)
    out = StringIO()

    call_command("promises", "evaluate", "--as-of", "2026-03-13", stdout=out)
    assert out.getvalue() == (
        "Promises as of 2026-03-13: 1 kept, 0 partially kept, 0 broken, 1 still pending; 0 tasks made.\n"
    )
    out = StringIO()
    call_command("promises", "evaluate", "--as-of", "2026-03-16", "--format", "json", stdout=out)
    assert json.loads(out.getvalue()) == {
        "as_of": "2026-03-16",
        "kept": 0,
        "partially_kept": 0,
        "broken": 1,
        "pending": 0,
        "tasks": 1,
    }
    assert (status(kept)[0], status(broken)[0]) == (PromiseStatus.KEPT, PromiseStatus.BROKEN)
    late = promise(customer, "10.00", made_on=D(2026, 5, 1), promised_date=D(2026, 5, 20))
    assert celery_tasks.evaluate_promises.delay().get() == {"broken": 1, "tasks": 1}  # as of 2026-06-01
    assert status(late)[3] == D(2026, 6, 1)
    with pytest.raises(Exception, match="not a date"):
        call_command("promises", "evaluate", "--as-of", "2026-13-01")


def test_beat_evaluates_promises_before_the_dunning_run_and_checks_credit_limits_daily(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE

    assert schedule["promises-evaluate"]["task"] == "recoup.activity.tasks.evaluate_promises"
    assert str(schedule["promises-evaluate"]["schedule"]) == "<crontab: 30 5 * * * (m/h/dM/MY/d)>"
    assert schedule["tasks-credit-limits"]["task"] == "recoup.activity.tasks.check_credit_limits"
    assert str(schedule["tasks-credit-limits"]["schedule"]) == "<crontab: 15 7 * * * (m/h/dM/MY/d)>"
    assert celery_tasks.check_credit_limits.name in celery_tasks.check_credit_limits.app.tasks
