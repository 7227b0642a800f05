"""/api/v1/tasks/ and /api/v1/promises/: every role against every endpoint (what it may, and that a refusal
writes nothing), the filters, field-level 400s instead of 500s, query counts that do not grow with the rows,
and the kept rate per collector and overall."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from recoup.activity.defaults import install_task_rules
from recoup.activity.models import Promise, PromiseStatus, Task, TaskKind, TaskStatus
from recoup.activity.services import promise_create, task_create
from recoup.core.models import Event
from recoup.ledger import services as ledger
from recoup.users.models import READ_ROLES, Role, User

pytestmark = pytest.mark.django_db
TASKS = "/api/v1/tasks/"
PROMISES = "/api/v1/promises/"
KEPT_RATE = "/api/v1/promises/kept-rate/"
ROLES = [*Role.values, "anonymous"]
MANAGERS = frozenset({Role.ADMIN, Role.MANAGER})
WORKERS = frozenset({Role.ADMIN, Role.MANAGER, Role.COLLECTOR, Role.RESOLVER})
ROLE_REFUSED = {"detail": "Your role does not allow this."}
TASK_REFUSED = {"detail": "You may act only on your own tasks (managers act on every task)."}
PROMISE_REFUSED = {"detail": "You may cancel only the promises you follow up or made (managers cancel any)."}
TODAY = dt.date(2026, 6, 1)


@pytest.fixture(autouse=True)
def today(clock):
    install_task_rules()


@pytest.fixture
def acme(db):
    customer = ledger.customer_create(actor=None, external_id="ACME", name="Acme")
    ledger.invoice_create(
        actor=None,
        customer=customer,
        external_id="A-1",
        issue_date=dt.date(2026, 4, 1),
        due_date=dt.date(2026, 5, 1),
        amount=Decimal("100.00"),
    )
    return customer


def task_for(customer, owner: User | None, title: str = "Call", due: dt.date = TODAY, role: str = "") -> Task:
    return task_create(
        actor=None, customer=customer, kind=TaskKind.CALL, title=title, due_date=due, owner=owner, role=role
    )[0]


def snapshot() -> tuple[Any, ...]:
    return (
        list(Task.objects.order_by("id").values_list("id", "owner_id", "due_date", "status", "role")),
        list(Promise.objects.order_by("id").values_list("id", "status")),
        Event.objects.count(),
    )


def requests(me: User, acme, make_user) -> list[tuple[str, str, dict | None, frozenset[str], int, dict]]:
    """(method, url, body, the roles allowed, their status, the refusal others get)."""
    mate = make_user(Role.COLLECTOR, f"mate-of-{me.username}")
    other = make_user(Role.COLLECTOR, f"other-of-{me.username}")
    mine, theirs = task_for(acme, me, "Mine"), task_for(acme, other, "Theirs")
    my_promise = promise_create(actor=me, customer=acme, amount="50.00", promised_date=dt.date(2026, 6, 5))
    their_promise = promise_create(
        actor=other, customer=acme, amount="60.00", promised_date=dt.date(2026, 6, 6)
    )
    own, others = f"{TASKS}{mine.pk}/", f"{TASKS}{theirs.pk}/"
    new_task = {"customer": "ACME", "kind": "review", "title": "Check terms", "due_date": "2026-06-03"}
    new_promise = {"customer": "ACME", "amount": "25.00", "promised_date": "2026-06-10", "invoices": ["A-1"]}
    return [
        *[
            ("get", url, None, READ_ROLES, 200, ROLE_REFUSED)
            for url in (TASKS, own, PROMISES, f"{PROMISES}{my_promise.pk}/", KEPT_RATE)
        ],
        ("post", TASKS, new_task, WORKERS, 201, ROLE_REFUSED),
        ("post", f"{own}complete/", {}, WORKERS, 200, ROLE_REFUSED),
        ("post", f"{others}complete/", {}, MANAGERS, 200, TASK_REFUSED),
        ("post", f"{own}snooze/", {"due_date": "2026-06-08"}, WORKERS, 200, ROLE_REFUSED),
        ("post", f"{others}snooze/", {"due_date": "2026-06-08"}, MANAGERS, 200, TASK_REFUSED),
        ("post", f"{own}reassign/", {"owner": mate.pk}, WORKERS, 200, ROLE_REFUSED),
        ("post", f"{TASKS}bulk/", {"action": "complete", "tasks": [mine.pk]}, WORKERS, 200, ROLE_REFUSED),
        (
            "post",
            f"{TASKS}bulk/",
            {"action": "complete", "tasks": [mine.pk, theirs.pk]},
            MANAGERS,
            200,
            TASK_REFUSED,
        ),
        ("post", PROMISES, new_promise, WORKERS, 201, ROLE_REFUSED),
        ("post", f"{PROMISES}{my_promise.pk}/cancel/", {"reason": "x"}, WORKERS, 200, ROLE_REFUSED),
        ("post", f"{PROMISES}{their_promise.pk}/cancel/", {}, MANAGERS, 200, PROMISE_REFUSED),
        # Nothing serves these: 405 to a role that may write, 403 to a viewer.
        ("put", own, new_task, WORKERS, 405, ROLE_REFUSED),
        ("patch", own, {"title": "x"}, WORKERS, 405, ROLE_REFUSED),
        ("delete", own, None, WORKERS, 405, ROLE_REFUSED),
        ("delete", f"{PROMISES}{my_promise.pk}/", None, WORKERS, 405, ROLE_REFUSED),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_gets_exactly_what_it_may_and_a_refusal_writes_nothing(client_for, make_user, acme, role):
    me = make_user(Role.VIEWER if role == "anonymous" else role, f"the-{role}")
    client = APIClient() if role == "anonymous" else client_for(me)
    cases = requests(me, acme, make_user)
    for method, url, body, allowed, success, refusal in cases:
        with transaction.atomic():
            before = snapshot()
            response = getattr(client, method)(url, body, format="json")
            changed = snapshot() != before
            transaction.set_rollback(True)
        expected = 401 if role == "anonymous" else success if role in allowed else 403
        assert response.status_code == expected, (method, url, body, response.content[:300])
        if expected == 403:
            mine = refusal if role in WORKERS else ROLE_REFUSED
            assert response.json() == mine, (method, url)
        assert changed == (expected in (200, 201) and method != "get"), (method, url)
    assert len(cases) == 20


def test_a_task_made_by_hand_is_yours_unless_you_name_someone_and_managers_may_name_nobody(
    client_for, make_user, acme
):
    cara = make_user(Role.COLLECTOR, "cara")
    client = client_for(cara)
    body = {
        "customer": "ACME",
        "kind": "call",
        "title": "Ring Pat",
        "due_date": "2026-06-02",
        "invoices": ["A-1"],
    }

    made = client.post(TASKS, body, format="json")
    unowned = client.post(TASKS, {**body, "owner": None}, format="json")
    by_manager = client_for(Role.MANAGER).post(
        TASKS, {**body, "owner": None, "role": "manager"}, format="json"
    )

    assert made.status_code == 201
    data = made.json()
    assert {
        k: data[k] for k in ("kind", "title", "customer", "invoices", "owner", "role", "status", "rule")
    } == {
        "kind": "call",
        "title": "Ring Pat",
        "customer": "ACME",
        "invoices": ["A-1"],
        "owner": cara.pk,
        "role": "",
        "status": "open",
        "rule": None,
    }
    assert (unowned.status_code, unowned.json()) == (
        403,
        {"detail": "Only a manager can leave a task to nobody."},
    )
    assert by_manager.status_code == 201 and (by_manager.json()["owner"], by_manager.json()["role"]) == (
        None,
        "manager",
    )


@pytest.mark.parametrize(
    ("url", "body", "errors"),
    [
        (TASKS, {"customer": "NOPE", "kind": "call", "title": "x", "due_date": "2026-06-02"}, {"customer"}),
        (TASKS, {"customer": "ACME", "kind": "chat", "title": "x", "due_date": "2026-06-02"}, {"kind"}),
        (TASKS, {"customer": "ACME", "kind": "call", "title": "x", "due_date": "9999-12-31"}, {"due_date"}),
        (TASKS, {"customer": "ACME", "kind": "call", "title": "", "due_date": "2026-06-02"}, {"title"}),
        (
            TASKS,
            {"customer": "ACME", "kind": "call", "title": "x", "due_date": "2026-06-02", "owner": "x"},
            {"owner"},
        ),
        (f"{TASKS}bulk/", {"action": "snooze", "tasks": [1]}, {"due_date"}),
        (f"{TASKS}bulk/", {"action": "reassign", "tasks": [1]}, {"owner"}),
        (f"{TASKS}bulk/", {"action": "complete", "tasks": []}, {"tasks"}),
        (f"{TASKS}bulk/", {"action": "complete", "tasks": ["a"]}, {"tasks"}),
        (f"{TASKS}bulk/", {"action": "complete", "tasks": [2**63]}, {"tasks"}),
        (PROMISES, {"customer": "ACME", "amount": "10.001", "promised_date": "2026-06-10"}, {"amount"}),
        (PROMISES, {"customer": "ACME", "amount": "0", "promised_date": "2026-06-10"}, {"amount"}),
        (PROMISES, {"customer": "ACME", "amount": "10", "promised_date": "2026-05-31"}, {"promised_date"}),
        (
            PROMISES,
            {"customer": "ACME", "amount": "10", "promised_date": "2026-06-10", "made_on": "2026-06-02"},
            {"made_on"},
        ),
        (
            PROMISES,
            {"customer": "ACME", "amount": "10", "promised_date": "2026-06-10", "grace_days": 366},
            {"grace_days"},
        ),
        (
            PROMISES,
            {"customer": "ACME", "amount": "10", "promised_date": "2026-06-10", "invoices": ["B-9"]},
            {"invoices"},
        ),
        (
            PROMISES,
            {"customer": "ACME", "amount": "10", "promised_date": "2026-06-10", "tolerance_percent": "101"},
            {"tolerance_percent"},
        ),
        (
            PROMISES,
            {"customer": "ACME", "amount": "10", "promised_date": "2026-06-10", "channel": "fax"},
            {"channel"},
        ),
    ],
)
def test_bad_requests_are_400s_naming_the_field_and_write_nothing(client_for, acme, url, body, errors):
    client = client_for(Role.MANAGER)
    before = snapshot()

    response = client.post(url, body, format="json")

    assert response.status_code == 400, response.content
    assert set(response.json()) == errors
    assert snapshot() == before


def test_the_services_refusals_are_field_level_400s(client_for, make_user, acme):
    cara = make_user(Role.COLLECTOR, "cara")
    viewer = make_user(Role.VIEWER, "vic")
    task = task_for(acme, cara)
    client = client_for(cara)
    other = ledger.customer_create(actor=None, external_id="OTHER", name="Other")
    ledger.invoice_create(
        actor=None,
        customer=other,
        external_id="O-1",
        issue_date=TODAY,
        due_date=TODAY,
        amount=Decimal("5.00"),
    )

    past = client.post(f"{TASKS}{task.pk}/snooze/", {"due_date": "2026-05-31"}, format="json")
    to_viewer = client.post(f"{TASKS}{task.pk}/reassign/", {"owner": viewer.pk}, format="json")
    foreign = client.post(
        PROMISES,
        {"customer": "ACME", "amount": "10", "promised_date": "2026-06-10", "invoices": ["O-1"]},
        format="json",
    )
    client.post(f"{TASKS}{task.pk}/complete/", {}, format="json")
    again = client.post(f"{TASKS}{task.pk}/complete/", {}, format="json")

    assert (past.status_code, past.json()) == (
        400,
        {"due_date": ["A task can be snoozed to 2026-06-01 or later."]},
    )
    assert (to_viewer.status_code, to_viewer.json()) == (
        400,
        {"owner": ["vic cannot own a task (role viewer)."]},
    )
    assert (foreign.status_code, foreign.json()) == (
        400,
        {"invoices": ["Every invoice of a promise must belong to its customer."]},
    )
    assert (again.status_code, again.json()) == (400, {"status": ["The task is already done."]})


def test_task_filters(client_for, make_user, acme):
    cara, dave = make_user(Role.COLLECTOR, "cara"), make_user(Role.COLLECTOR, "dave")
    late = task_for(acme, cara, "Late", due=dt.date(2026, 5, 30))
    now = task_for(acme, dave, "Now")
    later = task_for(acme, None, "Later", due=dt.date(2026, 6, 9), role=Role.COLLECTOR)
    Task.objects.filter(pk=now.pk).update(status=TaskStatus.DONE)
    client = client_for(cara)

    def ids(**params: str) -> list[int]:
        response = client.get(TASKS, params)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids() == [late.pk, now.pk, later.pk]
    assert ids(owner=str(cara.pk)) == [late.pk]
    assert ids(owner="none") == [later.pk]
    assert ids(status="done") == [now.pk]
    assert ids(due="overdue") == [late.pk] and ids(due="today") == [now.pk] and ids(due="later") == [later.pk]
    assert ids(due_before="2026-06-01", due_after="2026-06-01") == [now.pk]
    assert ids(scope="mine") == [late.pk, later.pk]  # hers, and the unowned one left for collectors
    assert ids(customer="ACME", kind="call") == [late.pk, now.pk, later.pk]
    assert ids(customer="NOPE") == []
    for bad in ({"owner": "cara"}, {"status": "sleeping"}, {"due": "soon"}, {"due_before": "tomorrow"}):
        response = client.get(TASKS, bad)
        assert response.status_code == 400 and set(response.json()) == set(bad), bad


def test_promise_filters_and_the_promise_as_the_api_shows_it(client_for, make_user, acme):
    cara = make_user(Role.COLLECTOR, "cara")
    mine = promise_create(
        actor=cara,
        customer=acme,
        amount="50.00",
        promised_date=dt.date(2026, 6, 5),
        invoices=list(acme.invoices.all()),
        made_on=dt.date(2026, 5, 30),
    )
    system = promise_create(actor=None, customer=acme, amount="60.00", promised_date=dt.date(2026, 6, 6))
    Promise.objects.filter(pk=system.pk).update(status=PromiseStatus.BROKEN)
    client = client_for(Role.VIEWER)

    detail = client.get(f"{PROMISES}{mine.pk}/").json()

    assert {k: v for k, v in detail.items() if k != "created_at"} == {
        "id": mine.pk,
        "customer": "ACME",
        "customer_name": "Acme",
        "invoices": ["A-1"],
        "amount": "50.00",
        "currency": "USD",
        "promised_date": "2026-06-05",
        "grace_days": 3,
        "deadline": "2026-06-08",
        "channel": "call",
        "status": "pending",
        "made_on": "2026-05-30",
        "tolerance_percent": "10.00",
        "paid_amount": "0.00",
        "evaluated_on": None,
        "resolved_on": None,
        "owner": cara.pk,
        "owner_username": "cara",
    }
    ids = lambda **p: [r["id"] for r in client.get(PROMISES, p).json()["results"]]  # noqa: E731
    assert ids(status="broken") == [system.pk]
    assert ids(owner=str(cara.pk)) == [mine.pk] and ids(owner="none") == [system.pk]
    assert ids(customer="ACME") == [mine.pk, system.pk]
    assert ids(due_before="2026-06-05") == [mine.pk]


def test_list_queries_do_not_grow_with_the_rows(client_for, make_user, acme):
    cara = make_user(Role.COLLECTOR, "cara")
    client = client_for(cara)

    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    for n in range(3):
        task_for(acme, cara, f"T{n}").invoices.set(acme.invoices.all())
        promise_create(
            actor=cara, customer=acme, amount="5.00", promised_date=TODAY, invoices=list(acme.invoices.all())
        )
    few = (count(TASKS), count(PROMISES))
    for n in range(20):
        task_for(acme, cara, f"U{n}").invoices.set(acme.invoices.all())
        promise_create(
            actor=cara, customer=acme, amount="5.00", promised_date=TODAY, invoices=list(acme.invoices.all())
        )

    assert (count(TASKS), count(PROMISES)) == few


def test_the_kept_rate_overall_and_per_collector(client_for, make_user, acme):
    cara, dave = make_user(Role.COLLECTOR, "cara"), make_user(Role.COLLECTOR, "dave")
    for owner, status, day in (
        (cara, "kept", 2),
        (cara, "broken", 3),
        (cara, "partially_kept", 4),
        (dave, "kept", 5),
        (dave, "pending", 6),
        (dave, "kept", 28),  # outside the period asked for
    ):
        made = promise_create(actor=owner, customer=acme, amount="10.00", promised_date=dt.date(2026, 5, day))
        Promise.objects.filter(pk=made.pk).update(status=status)
    client = client_for(Role.VIEWER)

    response = client.get(KEPT_RATE, {"start": "2026-05-01", "end": "2026-05-20"})
    default = client.get(KEPT_RATE).json()

    assert response.status_code == 200
    data = response.json()
    assert (data["start"], data["end"], data["overall"]) == (
        "2026-05-01",
        "2026-05-20",
        {
            "owner": None,
            "owner_username": None,
            "due": 4,
            "kept": 2,
            "partially_kept": 1,
            "broken": 1,
            "kept_rate": "0.5000",
        },
    )
    assert [(r["owner_username"], r["due"], r["kept_rate"]) for r in data["collectors"]] == [
        ("cara", 3, "0.3333"),
        ("dave", 1, "1.0000"),
    ]
    assert (default["start"], default["end"], default["overall"]["due"]) == ("2026-03-04", "2026-06-01", 5)
    bad = client.get(KEPT_RATE, {"start": "2026-06-02", "end": "2026-06-01"})
    assert (bad.status_code, bad.json()) == (400, {"start": ["The start is after the end."]})
    assert client.get(KEPT_RATE, {"end": "junk"}).status_code == 400
