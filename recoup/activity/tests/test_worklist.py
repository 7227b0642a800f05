"""My work today: who is on the list and why, the order and the score's terms (checked against the pure
rules), the next action, a query count that does not grow with the rows, managers looking at a collector's
list, bulk actions through the page (htmx, CSRF, permissions), the task list and the task-rule settings."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from recoup.activity import rules
from recoup.activity.models import AssignmentRule, Task, TaskKind, TaskRule, TaskStatus
from recoup.activity.services import promise_create, task_create
from recoup.activity.tests.workspace_support import task_rules
from recoup.activity.worklist import next_action, promise_kept_rate, worklist
from recoup.core.models import Event
from recoup.insights import rules as insights_rules
from recoup.insights import services as insights
from recoup.insights.models import CustomerPriority
from recoup.ledger import services as ledger
from recoup.ledger.models import Invoice
from recoup.users.models import Role, Team, User

pytestmark = pytest.mark.django_db
D = dt.date
TODAY = D(2026, 3, 16)
__all__ = ["task_rules"]


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(dt.datetime(2026, 3, 16, 12, 0, tzinfo=dt.UTC), tick=False):
        yield


@pytest.fixture
def cara(make_user) -> User:
    return make_user(Role.COLLECTOR, "cara")


@pytest.fixture
def desk(books, cara, make_user):
    """Cara's customers: BIG and SMALL overdue with nobody on them, TASK with a task due, PROMISED with a
    promise falling due, SNOOZED whose only task is due later, and FAR with a promise weeks away; DAVE's
    customer is someone else's, except for a task of Cara's on it."""
    ledger.fx_rate_set(actor=None, currency="EUR", date=D(2026, 1, 1), rate=Decimal("1.10"))
    dave = make_user(Role.COLLECTOR, "dave")
    big = books.customer("BIG", collector=cara)
    books.invoice(big, D(2026, 2, 14), "1000.00")  # 30 days
    books.invoice(big, D(2026, 1, 15), "500.00", currency="EUR")  # 60 days, 550.00 USD
    books.invoice(big, D(2026, 4, 1), "9999.00")  # not due: not in the score
    small = books.customer("SMALL", collector=cara)
    books.invoice(small, D(2026, 3, 6), "100.00")  # 10 days
    ledger.contact_create(actor=None, customer=small, name="Pat", phone="+1 555 0100")
    with_task = books.customer("TASK", collector=cara)
    books.invoice(with_task, D(2026, 3, 11), "120.00")  # 5 days
    task = task_create(
        actor=None, customer=with_task, kind=TaskKind.CALL, title="Call Pat", due_date=TODAY, owner=cara
    )[0]
    promised = books.customer("PROMISED", collector=cara)
    books.invoice(promised, D(2026, 3, 15), "300.00")  # 1 day
    promise = promise_create(
        actor=cara, customer=promised, amount="300.00", promised_date=D(2026, 3, 18), made_on=TODAY
    )
    snoozed = books.customer("SNOOZED", collector=cara)
    books.invoice(snoozed, D(2026, 1, 1), "5000.00")
    task_create(
        actor=None, customer=snoozed, kind=TaskKind.CALL, title="Later", due_date=D(2026, 3, 20), owner=cara
    )
    far = books.customer("FAR", collector=cara)
    books.invoice(far, D(2026, 1, 1), "5000.00")
    promise_create(actor=cara, customer=far, amount="10.00", promised_date=D(2026, 4, 30), made_on=TODAY)
    books.customer("PAID", collector=cara)
    other = books.customer("DAVE", collector=dave)
    books.invoice(other, D(2026, 3, 1), "50.00")  # 15 days
    favour = task_create(
        actor=None,
        customer=other,
        kind=TaskKind.REVIEW,
        title="Check for Dave",
        due_date=D(2026, 3, 2),
        owner=cara,
    )[0]
    return {"task": task, "promise": promise, "favour": favour, "dave": dave}


def test_the_list_holds_due_tasks_promises_falling_due_and_overdue_customers_nobody_works(desk, cara):
    work = worklist(collector=cara, today=TODAY)

    assert [r.external_id for r in work.rows] == ["BIG", "SMALL", "DAVE", "TASK", "PROMISED"]
    assert work.total == 5 and not work.has_next
    rows = {r.external_id: r for r in work.rows}
    assert rows["BIG"].terms == rules.ScoreTerms(Decimal("1550.00"), Decimal("40.6"), Decimal("63000.00"))
    assert rows["BIG"].reasons == ["overdue, and nobody is on it"] and rows["BIG"].needs_action
    assert rows["SMALL"].terms == rules.ScoreTerms(Decimal("100.00"), Decimal("10.0"), Decimal("1000.00"))
    assert rows["DAVE"].terms.score == Decimal("750.00")
    assert [t.pk for t in rows["DAVE"].tasks_due] == [desk["favour"].pk]
    assert rows["TASK"].reasons == ["1 task due"] and not rows["TASK"].needs_action
    assert [p.pk for p in rows["PROMISED"].promises_due] == [desk["promise"].pk]
    assert rows["PROMISED"].reasons == ["1 promise falling due"]
    assert [r.currency for r in work.rates] == ["EUR"]


def test_the_terms_agree_with_the_pure_rules_from_the_invoices(desk, cara):
    work = worklist(collector=cara, today=TODAY)

    rate = {"USD": Decimal(1), "EUR": Decimal("1.10")}
    for row in work.rows:
        items = [
            (i.open_amount * rate[i.currency], (TODAY - i.due_date).days)
            for i in Invoice.objects.filter(customer_id=row.customer_id, open_amount__gt=0)
        ]
        assert row.terms == rules.score_terms(items), row.external_id
    scores = [r.terms.score for r in work.rows]
    assert scores == sorted(scores, reverse=True)


def test_each_row_suggests_the_next_action_and_the_selector_agrees(desk, cara):
    rows = {r.external_id: r for r in worklist(collector=cara, today=TODAY).rows}

    assert (rows["BIG"].next_action.code, rows["BIG"].next_action.reason) == (
        rules.NextAction.EMAIL,
        "500.00 EUR + 1,000.00 USD overdue, the oldest 60 days; nobody is on it.",
    )
    assert rows["SMALL"].next_action.code is rules.NextAction.CALL  # Pat has a phone number
    assert (rows["TASK"].next_action.code, rows["TASK"].next_action.task_id) == (
        rules.NextAction.TASK,
        desk["task"].pk,
    )
    assert rows["PROMISED"].next_action == rules.Suggestion(
        rules.NextAction.PROMISE,
        "Wait for the promised payment",
        "300.00 USD is promised by 2026-03-18.",
        promise_id=desk["promise"].pk,
    )
    for row in rows.values():
        assert next_action(row.customer_id, today=TODAY) == row.next_action


def test_paging_cuts_the_ordered_list(desk, cara):
    first = worklist(collector=cara, today=TODAY, page_size=2)
    second = worklist(collector=cara, today=TODAY, page=2, page_size=2)
    third = worklist(collector=cara, today=TODAY, page=3, page_size=2)

    assert [[r.external_id for r in w.rows] for w in (first, second, third)] == [
        ["BIG", "SMALL"],
        ["DAVE", "TASK"],
        ["PROMISED"],
    ]
    assert (first.has_next, third.has_next, first.pages, third.has_previous) == (True, False, 3, True)


def many(books, collector, n: int) -> None:
    for k in range(n):
        customer = books.customer(f"M{n}-{k:03d}", collector=collector, emails=())
        books.invoice(customer, D(2026, 2, 1), f"{10 + k}.00")
        if k % 3 == 0:
            task_create(
                actor=None,
                customer=customer,
                kind=TaskKind.CALL,
                title="Call",
                due_date=TODAY,
                owner=collector,
            )
        if k % 3 == 1:
            promise_create(
                actor=collector, customer=customer, amount="5.00", promised_date=TODAY, made_on=TODAY
            )


def count_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_the_page_runs_the_same_queries_for_5_rows_as_for_50(books, make_user, django_assert_num_queries):
    few, lots = make_user(Role.COLLECTOR, "few"), make_user(Role.COLLECTOR, "lots")
    many(books, few, 5)
    many(books, lots, 50)
    clients = {}
    for user in (few, lots):
        clients[user.username] = Client()
        clients[user.username].force_login(user)
    url = reverse("worklist")

    small = count_queries(clients["few"], url)
    with django_assert_num_queries(small):
        response = clients["lots"].get(url)

    assert response.content.decode().count('<tr id="work-') == 50
    assert small <= 12


def test_scored_customers_rank_by_their_priority_score_and_new_weights_re_rank_at_once(desk, cara, manager):
    insights.scores_refresh(actor=None, as_of=TODAY)
    stored = dict(CustomerPriority.objects.values_list("customer__external_id", "score"))

    work = worklist(collector=cara, today=TODAY)

    assert {r.external_id for r in work.rows} == {"BIG", "SMALL", "DAVE", "TASK", "PROMISED"}
    assert [stored[r.external_id] for r in work.rows] == sorted(
        (stored[r.external_id] for r in work.rows), reverse=True
    )
    assert [r.priority.score for r in work.rows] == pytest.approx(
        [stored[r.external_id] for r in work.rows], abs=1e-3
    )
    assert len({stored[r.external_id] for r in work.rows}) == 5  # no ties: the order is the score's alone
    by_days = sorted(work.rows, key=lambda r: (-r.priority.max_days_past_due, r.customer_id))

    insights.priority_weights_update(
        actor=manager, **{**dict.fromkeys(insights_rules.TERMS, 0.0), "days_past_due": 10.0}
    )
    reranked = worklist(collector=cara, today=TODAY)

    assert [r.external_id for r in reranked.rows] == [r.external_id for r in by_days]
    assert [r.priority.score for r in reranked.rows] == pytest.approx(
        [10 * r.priority.points["days_past_due"] for r in by_days], abs=1e-3
    )


def test_a_scored_row_shows_its_terms_and_says_when_the_baseline_answered(desk, cara):
    insights.scores_refresh(actor=None, as_of=TODAY)
    big = CustomerPriority.objects.get(customer__external_id="BIG")

    page = logged_in(cara).get(reverse("worklist")).content.decode()

    row = re.search(rf'<tr id="work-{big.customer_id}"[^>]*data-priority="([-\d.]+)">(.*?)</tr>', page, re.S)
    assert row is not None and float(row.group(1)) == pytest.approx(big.score, abs=0.05)
    text = re.sub(r"<[^>]+>|\s+", " ", row.group(2))
    assert f"Days past due +{big.term_days_past_due:.1f}" in text
    assert "Baseline: the payment terms" in text  # two months of history: no model, and it says so


def logged_in(user: User, **kw) -> Client:
    client = Client(**kw)
    client.force_login(user)
    return client


def test_the_page_shows_each_rows_terms_reasons_and_a_link_to_the_customer_with_the_next_action(desk, cara):
    page = logged_in(cara).get(reverse("worklist")).content.decode()

    big = re.search(r'<tr id="work-(\d+)" data-score="63000.00">(.*?)</tr>', page, re.S)
    assert big is not None
    cells = [
        re.sub(r"<[^>]+>|\s+", " ", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", big.group(2), re.S)
    ]
    assert cells[1:4] == ["1,550.00", "40.6", "Not scored yet: ranked by overdue × days."]
    assert cells[4] == "Overdue, and nobody is on it"
    assert f'href="/customers/{big.group(1)}/?next_action=email"' in big.group(2)
    assert "My work today" in page and "5 customers on the list" in page
    assert page.index('href="/worklist/"') < page.index('href="/dashboard/"')  # the first nav item
    assert "nobody (any collector)" not in page  # only managers leave a task to nobody
    assert f'<option value="{cara.pk}" selected>cara</option>' in page


def test_managers_see_any_collectors_list_and_collectors_only_their_own(desk, cara, manager):
    url = f"{reverse('worklist')}?collector={cara.pk}"

    as_manager = logged_in(manager).get(url)
    as_other = logged_in(desk["dave"]).get(url)
    partial = logged_in(manager).get(url, headers={"HX-Request": "true"})

    assert as_manager.status_code == 200 and "Work today for cara" in as_manager.content.decode()
    assert "— nobody (any collector) —" in as_manager.content.decode()
    assert as_other.status_code == 403
    html = partial.content.decode()
    assert html.lstrip().startswith('<div id="worklist"') and html.count('<tr id="work-') == 5
    assert logged_in(manager).get(reverse("worklist")).content.decode().count('<tr id="work-') == 0


def csrf_token(client: Client) -> str:
    page = client.get(reverse("worklist")).content.decode()
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_bulk_actions_from_the_page_need_the_csrf_token_and_change_what_was_ticked(desk, cara):
    client = logged_in(cara, enforce_csrf_checks=True)
    ticked = [desk["task"].pk, desk["favour"].pk]
    data = {"action": "snooze", "due_date": "2026-03-20", "tasks": ticked, "back": "worklist"}

    refused = client.post(reverse("task-bulk"), data, headers={"HX-Request": "true"})
    assert refused.status_code == 403
    assert Task.objects.filter(pk__in=ticked, due_date=TODAY).count() == 1  # unchanged
    token = csrf_token(client)
    response = client.post(reverse("task-bulk"), data, headers={"HX-Request": "true", "X-CSRFToken": token})

    assert response.status_code == 200
    html = response.content.decode()
    assert "2 tasks snoozed to 2026-03-20." in html
    due_dates = Task.objects.filter(pk__in=ticked).order_by().values_list("due_date", flat=True)
    assert list(due_dates.distinct()) == [D(2026, 3, 20)]
    # TASK and DAVE left the list: their only tasks are due later now.
    assert re.findall(r'<tr id="work-\d+"', html) and "TASK" not in re.sub(r"<[^>]+>", "", html).split()
    assert Event.objects.filter(verb="task.snoozed").count() == 2


def test_a_bulk_action_on_someone_elses_task_is_refused_whole(desk, cara):
    daves = task_create(
        actor=None,
        customer=desk["task"].customer,
        kind=TaskKind.CALL,
        title="Dave's",
        due_date=TODAY,
        owner=desk["dave"],
    )[0]
    data = {"action": "complete", "tasks": [desk["task"].pk, daves.pk], "back": "worklist"}

    response = logged_in(cara).post(reverse("task-bulk"), data, headers={"HX-Request": "true"})
    viewer = User.objects.create_user(username="vic", password="x", role=Role.VIEWER)
    as_viewer = logged_in(viewer).post(reverse("task-bulk"), data)

    assert (response.status_code, as_viewer.status_code) == (403, 403)
    assert "You may act only on your own tasks" in response.content.decode()  # shown in the list it swaps
    assert Task.objects.filter(status=TaskStatus.OPEN, pk__in=[desk["task"].pk, daves.pk]).count() == 2
    assert not Event.objects.filter(verb="task.completed").exists()


def test_a_bulk_form_with_nothing_ticked_says_so_and_changes_nothing(desk, cara):
    response = logged_in(cara).post(
        reverse("task-bulk"), {"action": "complete", "back": "worklist"}, headers={"HX-Request": "true"}
    )
    without_js = logged_in(cara).post(
        reverse("task-bulk"), {"action": "complete", "tasks": [desk["task"].pk]}
    )

    assert response.status_code == 400 and "Tick the tasks to act on." in response.content.decode()
    assert (without_js.status_code, without_js["Location"]) == (302, "/worklist/")
    assert Task.objects.get(pk=desk["task"].pk).status == TaskStatus.DONE


def test_the_task_list_filters_by_scope_and_status(desk, cara, manager):
    client = logged_in(cara)

    def titles(query: str) -> list[str]:
        html = client.get(f"{reverse('task-list')}?{query}").content.decode()
        return re.findall(
            r'<tr id="task-\d+"[^>]*>.*?<td>(?:<input[^>]*>)?</td>\s*<td[^>]*>[^<]*</td>\s*<td>([^<]*)</td>',
            html,
            re.S,
        )

    assert titles("scope=mine") == ["Check for Dave", "Call Pat", "Later"]
    Task.objects.filter(pk=desk["favour"].pk).update(status=TaskStatus.DONE)
    assert titles("scope=mine&status=done") == ["Check for Dave"]
    assert titles("scope=all&status=all") == ["Check for Dave", "Call Pat", "Later"]
    team = Team.objects.create(name="North")
    User.objects.filter(pk=desk["dave"].pk).update(team=team)
    assert titles("scope=team") == []  # cara is in no team
    assert client.get(f"{reverse('task-list')}?status=bogus").status_code == 200


def test_task_rule_settings_are_for_managers(task_rules, cara, manager):
    url = reverse("task-rules")
    rule = task_rules["credit_limit"]
    update = reverse("task-rule-update", args=[rule.pk])
    prefix = f"rule{rule.pk}"
    data = {f"{prefix}-kind": "escalation", f"{prefix}-due_in_days": "2", f"{prefix}-min_amount": "250"}

    assert logged_in(cara).get(url).status_code == 403
    assert logged_in(cara).post(update, data).status_code == 403
    assert TaskRule.objects.get(pk=rule.pk).kind == TaskKind.REVIEW
    page = logged_in(manager).get(url).content.decode()
    assert "Over the credit limit" in page and f'form="rule-form-{rule.pk}"' in page
    response = logged_in(manager).post(update, data)

    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.is_active, rule.kind, rule.due_in_days, rule.min_amount) == (
        False,
        "escalation",
        2,
        Decimal(250),
    )
    assert Event.objects.get(verb="task_rule.updated").data == {
        "is_active": [True, False],
        "kind": ["review", "escalation"],
        "due_in_days": [0, 2],
        "min_amount": ["0.0000", "250"],
    }


def test_assignment_rules_are_added_checked_and_removed_by_managers(manager, cara):
    client = logged_in(manager)
    add = reverse("assignment-rule-add")

    bad = client.post(
        add, {"new-position": "1", "new-min_balance": "100", "new-max_balance": "50", "new-user": cara.pk}
    )
    nobody = client.post(add, {"new-position": "1", "new-segment": "Retail"})
    assert (bad.status_code, nobody.status_code) == (400, 400)
    assert "The band&#x27;s upper bound must be above its lower bound." in bad.content.decode()
    assert "Give the rule a user or a team." in nobody.content.decode()
    assert not AssignmentRule.objects.exists()
    good = client.post(
        add, {"new-position": "1", "new-is_active": "on", "new-segment": " Retail ", "new-user": cara.pk}
    )
    assert good.status_code == 302
    rule = AssignmentRule.objects.get()
    assert (rule.segment, rule.user, rule.is_active) == ("Retail", cara, True)
    assert (
        logged_in(cara).post(reverse("assignment-rule-save", args=[rule.pk]), {"delete": "1"}).status_code
        == 403
    )
    assert client.post(reverse("assignment-rule-save", args=[rule.pk]), {"delete": "1"}).status_code == 302
    assert not AssignmentRule.objects.exists()
    assert [e.verb for e in Event.objects.filter(verb__startswith="assignment_rule").order_by("id")] == [
        "assignment_rule.created",
        "assignment_rule.deleted",
    ]


def test_the_kept_rate_per_owner_and_overall(books, cara, make_user):
    from recoup.activity.models import Promise, PromiseStatus

    dave = make_user(Role.COLLECTOR, "dave")
    customer = books.customer("RATE")
    outcomes = [(cara, "kept"), (cara, "broken"), (cara, "partially_kept"), (dave, "kept"), (None, "broken")]
    for owner, status in outcomes:
        made = promise_create(actor=owner, customer=customer, amount="10.00", promised_date=D(2026, 2, 10))
        Promise.objects.filter(pk=made.pk).update(status=status)
    promise_create(actor=cara, customer=customer, amount="10.00", promised_date=D(2026, 2, 11))  # pending
    outside = promise_create(actor=cara, customer=customer, amount="10.00", promised_date=D(2026, 1, 31))
    Promise.objects.filter(pk=outside.pk).update(status=PromiseStatus.KEPT)

    overall, per = promise_kept_rate(start=D(2026, 2, 1), end=D(2026, 2, 28))

    assert (overall.kept, overall.due, overall.rate) == (2, 5, Decimal("0.4000"))
    assert [(c.username, c.rate.kept, c.rate.due, c.rate.rate) for c in per] == [
        ("cara", 1, 3, Decimal("0.3333")),
        ("dave", 1, 1, Decimal("1.0000")),
        ("", 0, 1, Decimal("0.0000")),
    ]
