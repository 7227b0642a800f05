"""The rule engine: one open task per rule and subject, inactive rules and minimum amounts, due dates, the
assignment order (customer's collector, team round robin, assignment rules by segment and band, nobody),
and the credit-limit check with its command."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from recoup.activity.models import AssignmentRule, RoundRobin, Task, TaskKind, TaskStatus, TimelineEntry
from recoup.activity.services import task_complete
from recoup.activity.task_services import rule_task, tasks_check_credit_limits
from recoup.activity.tests.workspace_support import task_rules
from recoup.core.models import Event
from recoup.ledger import services as ledger
from recoup.users.models import Role, Team, User

pytestmark = pytest.mark.django_db
D = dt.date
TODAY = D(2026, 3, 10)
__all__ = ["task_rules"]


def fire(customer, subject="1", trigger="dunning_call", **kw) -> tuple[Task | None, bool]:
    kw.setdefault("title", "Call them")
    kw.setdefault("today", TODAY)
    return rule_task(trigger=trigger, customer=customer, subject=subject, **kw)


def member(name: str, team: Team, role: str = Role.COLLECTOR, **kw) -> User:
    return User.objects.create_user(username=name, password="x", role=role, team=team, **kw)


def test_a_rule_makes_one_task_per_subject_while_it_is_open_then_a_new_one(books, task_rules, collector):
    customer = books.customer("IDEM", collector=collector)
    invoice = books.invoice(customer, D(2026, 2, 1))

    first, made = fire(customer, invoices=[invoice], description="Level 2")
    again, made_again = fire(customer, invoices=[invoice])
    other, made_other = fire(customer, subject="2")

    assert (made, made_again, made_other) == (True, False, True)
    assert again.pk == first.pk and other.pk != first.pk
    assert (first.kind, first.rule, first.source_key, first.due_date, first.owner) == (
        TaskKind.CALL,
        task_rules["dunning_call"],
        "dunning_call:1",
        TODAY,
        collector,
    )
    assert first.description == "Level 2\nAssigned to collector: the customer's collector."
    assert list(first.invoices.all()) == [invoice]
    task_complete(actor=collector, task=first)
    after, made_after = fire(customer)

    assert made_after is True and after.pk not in (first.pk, other.pk)
    assert list(Task.objects.filter(source_key="dunning_call:1").values_list("status", flat=True)) == [
        TaskStatus.DONE,
        TaskStatus.OPEN,
    ]


def test_an_inactive_rule_or_an_amount_below_its_minimum_makes_nothing(books, task_rules):
    rule = task_rules["credit_limit"]
    rule.min_amount = Decimal("500.00")
    rule.due_in_days = 2
    rule.save()
    customer = books.customer("MIN")

    assert fire(customer, trigger="credit_limit", amount=Decimal("499.99")) == (None, False)
    made, created = fire(customer, trigger="credit_limit", amount=Decimal("500.00"))
    unknown, unknown_created = fire(customer, trigger="credit_limit", subject="2", amount=None)
    assert (
        created and unknown_created and unknown is not None
    )  # an amount nobody could convert does not hold a task back
    assert (made.kind, made.due_date, made.role, made.owner) == (
        TaskKind.REVIEW,
        D(2026, 3, 12),
        "collector",
        None,
    )
    rule.is_active = False
    rule.save()
    assert fire(customer, trigger="credit_limit", subject="3", amount=Decimal("1000")) == (None, False)
    rule.delete()
    assert fire(customer, trigger="credit_limit", subject="4") == (None, False)
    assert Task.objects.count() == 2


def test_assignment_goes_to_the_collector_then_round_robin_then_the_rules_then_nobody(books, task_rules):
    north = Team.objects.create(name="North")
    ann, bob = member("ann", north), member("bob", north)
    member("vera", north, role=Role.VIEWER)  # a viewer never gets work
    member("gone", north, is_active=False)
    inactive_collector = member("left", north, is_active=False)
    rule = task_rules["broken_promise"]
    rule.team = north
    rule.save()
    customers = [books.customer(f"RR{n}", collector=inactive_collector if n == 0 else None) for n in range(4)]

    owners = [fire(c, trigger="broken_promise", subject=c.pk)[0].owner for c in customers]

    assert owners == [ann, bob, ann, bob]
    assert RoundRobin.objects.get(team=north).last_user == bob
    # A duplicate moves nobody's turn.
    fire(customers[0], trigger="broken_promise", subject=customers[0].pk)
    assert RoundRobin.objects.get(team=north).last_user == bob


def test_assignment_rules_match_segment_and_open_balance_band_in_the_base_currency(books, task_rules):
    ledger.fx_rate_set(actor=None, currency="EUR", date=D(2026, 1, 1), rate=Decimal("1.10"))
    south = Team.objects.create(name="South")
    sue, sam = member("sue", south), member("sam", south)
    big = member("big", None)
    AssignmentRule.objects.create(position=1, segment="Enterprise", min_balance=Decimal("1000"), user=big)
    AssignmentRule.objects.create(position=2, segment="Enterprise", team=south)
    AssignmentRule.objects.create(position=3, is_active=False, user=big)
    enterprise_big = books.customer("EB", currency="EUR", segment="Enterprise")
    books.invoice(enterprise_big, D(2026, 2, 1), "910.00")  # 1,001.00 USD
    enterprise_small = books.customer("ES", segment="Enterprise")
    books.invoice(enterprise_small, D(2026, 2, 1), "999.99")
    retail = books.customer("RT", segment="Retail")

    assert fire(enterprise_big, subject="a")[0].owner == big
    small_task, _ = fire(enterprise_small, subject="b")
    assert (small_task.owner, fire(enterprise_small, subject="c")[0].owner) == (sue, sam)
    assert "assignment rule 2 (Enterprise → South), round robin in South" in small_task.description
    nobody, _ = fire(retail, subject="d")
    assert (nobody.owner, nobody.role) == (None, Role.COLLECTOR)
    assert nobody.description == "Assigned to any collector: nobody matched; any collector may take it."


def test_a_named_owner_comes_first_and_escalations_skip_collector_assignment(books, task_rules, collector):
    boss = User.objects.create_user(username="boss", password="x", role=Role.MANAGER)
    AssignmentRule.objects.create(position=1, user=collector)
    customer = books.customer("ESC", collector=collector)

    named, _ = fire(customer, trigger="dispute_sla", subject="1", owner=boss, role=Role.MANAGER)
    boss.is_active = False
    boss.save()
    unnamed, _ = fire(customer, trigger="dispute_sla", subject="2", owner=boss, role=Role.MANAGER)

    assert (named.owner, named.kind) == (boss, TaskKind.ESCALATION)
    assert (unnamed.owner, unnamed.role) == (None, Role.MANAGER)  # not the collector: an escalation


def test_the_dunning_call_and_dispute_sla_tasks_are_made_by_their_rules(books, task_rules, manager, smtp):
    from recoup.disputes.defaults import install_reasons
    from recoup.disputes.services import dispute_open, disputes_check_sla

    install_reasons()
    task_rules["dispute_sla"].is_active = False
    task_rules["dispute_sla"].save()
    customer = books.customer("SLA")
    dispute = dispute_open(
        actor=manager,
        invoice=books.invoice(customer, D(2026, 2, 1)),
        reason="duplicate_billing",
        opened_on=TODAY,
    )

    assert disputes_check_sla(as_of=TODAY + dt.timedelta(days=6)) == 1
    assert not Task.objects.exists()  # the rule is off: the breach is marked, no task
    assert Event.objects.get(verb="dispute.sla_breached").data == {"task": None}
    dispute.refresh_from_db()
    assert dispute.sla_breached_on == TODAY + dt.timedelta(days=6)


# Credit limits ----------------------------------------------------------------------------------------------


def test_a_customer_over_its_limit_gets_one_review_task_per_breach(books, task_rules, collector):
    ledger.fx_rate_set(actor=None, currency="EUR", date=D(2026, 1, 1), rate=Decimal("1.10"))
    over = books.customer("OVER", currency="EUR", collector=collector, credit_limit=Decimal("1000.00"))
    invoice = books.invoice(over, D(2026, 2, 1), "1000.00", currency="EUR")
    books.invoice(over, D(2026, 2, 1), "10.00", currency="USD")  # 1,100 + 10 USD > 1,100 USD limit
    within = books.customer("WITHIN", credit_limit=Decimal("500.00"))
    books.invoice(within, D(2026, 2, 1), "500.00")  # at the limit is not over it
    books.customer("NOLIMIT")
    books.invoice(books.customer("UNLIMITED"), D(2026, 2, 1), "99999.00")

    first = tasks_check_credit_limits(actor=None, today=TODAY)
    second = tasks_check_credit_limits(actor=None, today=TODAY + dt.timedelta(days=1))

    assert ((first.over, first.created), (second.over, second.created)) == ((1, 1), (1, 0))
    [task] = Task.objects.all()
    assert (task.kind, task.owner, task.customer, task.source_key) == (
        TaskKind.REVIEW,
        collector,
        over,
        f"credit_limit:{over.pk}",
    )
    assert task.title == "Over the credit limit: OVER Ltd"
    assert task.description.startswith("Open balance 1,110.00 USD against a credit limit of 1,000.00 EUR.")
    # Finished while still over the limit: that breach is settled, no new task.
    task_complete(actor=collector, task=task)
    assert tasks_check_credit_limits(actor=None, today=TODAY + dt.timedelta(days=2)).created == 0
    # Back within the limit, then over it again: a new breach, a new task.
    books.pay(invoice, "100.00", TODAY)
    assert tasks_check_credit_limits(actor=None, today=TODAY + dt.timedelta(days=3)).over == 0
    task.refresh_from_db()
    assert task.source_key == f"credit_limit:{over.pk}@2026-03-13"
    books.invoice(over, D(2026, 3, 1), "200.00", currency="EUR")
    again = tasks_check_credit_limits(actor=None, today=TODAY + dt.timedelta(days=4))

    assert (again.over, again.created) == (1, 1)
    assert Task.objects.filter(status=TaskStatus.OPEN, source_key=f"credit_limit:{over.pk}").count() == 1
    assert TimelineEntry.objects.filter(customer=within).count() == 0


def test_the_credit_limit_command(books, task_rules):
    customer = books.customer("CMD", credit_limit=Decimal("10.00"))
    books.invoice(customer, D(2026, 2, 1), "10.01")
    out = StringIO()

    call_command("tasks", "check-credit-limits", "--as-of", "2026-03-10", stdout=out)
    call_command("tasks", "check-credit-limits", "--as-of", "2026-03-11", stdout=out)

    assert out.getvalue() == (
        "1 customer over the credit limit; 1 new task.\n1 customer over the credit limit; 0 new tasks.\n"
    )
    assert Task.objects.get().due_date == D(2026, 3, 10)
