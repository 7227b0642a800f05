"""What people do with tasks: reassign, snooze, complete, one at a time or in bulk. Collectors act on their
own tasks (and on unowned ones left for their role), managers on all, viewers on none; a bulk action is all
or nothing; each change is a timeline entry and an audit event."""

from __future__ import annotations

import datetime as dt

import pytest

from recoup.activity.models import EntryKind, Task, TaskKind, TaskStatus, TimelineEntry
from recoup.activity.services import task_complete, task_create
from recoup.activity.task_services import task_reassign, task_snooze, tasks_bulk
from recoup.core.errors import DomainError, NotAllowed
from recoup.core.models import Event
from recoup.users.models import Role

pytestmark = pytest.mark.django_db
D = dt.date
TODAY = D(2026, 3, 10)


@pytest.fixture
def people(make_user, manager, viewer):
    return {
        "cara": make_user(Role.COLLECTOR, "cara"),
        "dave": make_user(Role.COLLECTOR, "dave"),
        "manager": manager,
        "viewer": viewer,
    }


def make(customer, owner=None, role="", title="Call", due=TODAY) -> Task:
    return task_create(
        actor=None, customer=customer, kind=TaskKind.CALL, title=title, due_date=due, owner=owner, role=role
    )[0]


def events(verb: str) -> list[dict]:
    return list(Event.objects.filter(verb=verb).order_by("id").values_list("data", flat=True))


def test_reassign_snooze_and_complete_write_the_timeline_and_an_event(books, people):
    cara, dave = people["cara"], people["dave"]
    customer = books.customer("ACT")
    invoice = books.invoice(customer, D(2026, 2, 1))
    task = make(customer, owner=cara, title="Call Pat")
    task.invoices.set([invoice])

    task_reassign(actor=cara, task=task, owner=dave)
    task_snooze(actor=dave, task=task, due_date=D(2026, 3, 12), today=TODAY)
    task_complete(actor=dave, task=task)

    task.refresh_from_db()
    assert (task.owner, task.due_date, task.status) == (dave, D(2026, 3, 12), TaskStatus.DONE)
    entries = TimelineEntry.objects.filter(customer=customer, kind=EntryKind.TASK).order_by("id")
    assert [(e.title, e.body, e.actor) for e in entries] == [
        ("Task reassigned: Call Pat", "From cara to dave.", cara),
        ("Task snoozed: Call Pat", "Due 2026-03-12 instead of 2026-03-10.", dave),
        ("Task done: Call Pat", "", dave),
    ]
    assert all(list(e.invoices.all()) == [invoice] for e in entries)
    assert events("task.reassigned") == [{"from": "cara", "to": "dave", "role": ""}]
    assert events("task.snoozed") == [{"from": "2026-03-10", "to": "2026-03-12"}]
    assert Event.objects.get(verb="task.completed").actor == dave


def test_collectors_act_only_on_their_own_tasks_and_viewers_on_none(books, people):
    cara, dave, viewer = people["cara"], people["dave"], people["viewer"]
    customer = books.customer("MINE")
    daves = make(customer, owner=dave)
    for actor in (cara, viewer):
        with pytest.raises(NotAllowed):
            task_complete(actor=actor, task=daves)
        with pytest.raises(NotAllowed):
            task_snooze(actor=actor, task=daves, due_date=D(2026, 3, 20), today=TODAY)
        with pytest.raises(NotAllowed):
            task_reassign(actor=actor, task=daves, owner=actor)
    daves.refresh_from_db()
    assert (daves.status, daves.owner, daves.due_date) == (TaskStatus.OPEN, dave, TODAY)
    assert not TimelineEntry.objects.filter(kind=EntryKind.TASK).exists()
    assert not Event.objects.filter(verb__in=("task.completed", "task.snoozed", "task.reassigned")).exists()
    # An unowned task left for collectors is any collector's to take; one left for managers is not.
    for_collectors = make(customer, role=Role.COLLECTOR)
    for_managers = make(customer, role=Role.MANAGER)
    task_reassign(actor=cara, task=for_collectors, owner=cara)
    with pytest.raises(NotAllowed):
        task_complete(actor=cara, task=for_managers)
    task_complete(actor=people["manager"], task=for_managers)
    assert Task.objects.get(pk=for_collectors.pk).owner == cara


def test_only_managers_leave_a_task_to_nobody_and_owners_must_be_able_to_work(books, people):
    cara, manager, viewer = people["cara"], people["manager"], people["viewer"]
    task = make(books.customer("NOBODY"), owner=cara)

    with pytest.raises(NotAllowed, match="leave a task to nobody"):
        task_reassign(actor=cara, task=task, owner=None)
    with pytest.raises(DomainError, match=r"viewer cannot own a task \(role viewer\)"):
        task_reassign(actor=manager, task=task, owner=viewer)
    task_reassign(actor=manager, task=task, owner=None, role=Role.COLLECTOR)

    task.refresh_from_db()
    assert (task.owner, task.role) == (None, Role.COLLECTOR)


def test_a_task_cannot_be_snoozed_into_the_past_nor_changed_once_closed(books, people):
    cara = people["cara"]
    task = make(books.customer("PAST"), owner=cara)

    with pytest.raises(DomainError, match="snoozed to 2026-03-10 or later"):
        task_snooze(actor=cara, task=task, due_date=D(2026, 3, 9), today=TODAY)
    task_snooze(actor=cara, task=task, due_date=TODAY, today=TODAY)  # no change: no entry
    assert not Event.objects.filter(verb="task.snoozed").exists()
    task_complete(actor=cara, task=task)
    with pytest.raises(DomainError, match="already done"):
        task_snooze(actor=cara, task=task, due_date=D(2026, 3, 20), today=TODAY)
    with pytest.raises(DomainError, match="already done"):
        task_reassign(actor=cara, task=task, owner=people["dave"])


def test_a_bulk_action_is_all_or_nothing_and_checks_every_task(books, people):
    cara, dave = people["cara"], people["dave"]
    customer = books.customer("BULK")
    mine = [make(customer, owner=cara, title=f"Mine {n}") for n in range(3)]
    theirs = make(customer, owner=dave, title="Theirs")

    with pytest.raises(NotAllowed):
        tasks_bulk(actor=cara, action="complete", task_ids=[t.pk for t in [*mine, theirs]], today=TODAY)
    with pytest.raises(DomainError, match=rf"No task {theirs.pk + 100}\."):
        tasks_bulk(actor=cara, action="complete", task_ids=[mine[0].pk, theirs.pk + 100], today=TODAY)
    assert Task.objects.filter(status=TaskStatus.OPEN).count() == 4
    assert not TimelineEntry.objects.filter(kind=EntryKind.TASK).exists()

    done = tasks_bulk(
        actor=cara, action="complete", task_ids=[mine[0].pk, mine[1].pk, mine[0].pk], today=TODAY
    )
    assert [t.pk for t in done] == [mine[0].pk, mine[1].pk]
    with pytest.raises(DomainError, match=rf"Task {mine[0].pk} is no longer open\."):
        tasks_bulk(
            actor=cara, action="snooze", task_ids=[mine[0].pk, mine[2].pk], due_date=TODAY, today=TODAY
        )
    with pytest.raises(DomainError, match="Give the new due date"):
        tasks_bulk(actor=cara, action="snooze", task_ids=[mine[2].pk], today=TODAY)
    with pytest.raises(DomainError, match="Choose at least one task"):
        tasks_bulk(actor=cara, action="complete", task_ids=[], today=TODAY)
    with pytest.raises(DomainError, match="must be one of"):
        tasks_bulk(actor=cara, action="delete", task_ids=[mine[2].pk], today=TODAY)

    moved = tasks_bulk(
        actor=people["manager"], action="reassign", task_ids=[mine[2].pk, theirs.pk], owner=cara, today=TODAY
    )
    assert [t.owner for t in moved] == [cara, cara]
    assert events("task.reassigned") == [{"from": "dave", "to": "cara", "role": ""}]  # mine[2] was cara's
