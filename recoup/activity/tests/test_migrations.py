"""The workspace's data migration: the default task rules, made_on and owner for promises recorded before
they existed, and the rule engine's keys for the tasks dunning and the SLA check made before it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from recoup.activity.defaults import DEFAULT_TASK_RULES
from recoup.activity.models import Promise, Task, TaskRule

BEFORE = [("activity", "0002_workspace")]
AFTER = [("activity", "0003_workspace_data")]


@pytest.mark.django_db
def test_the_migration_installs_one_active_rule_per_trigger_due_the_day_it_fires():
    rules = list(
        TaskRule.objects.order_by("trigger").values_list("trigger", "kind", "due_in_days", "is_active")
    )
    assert rules == sorted((trigger, kind, days, True) for trigger, kind, days in DEFAULT_TASK_RULES)


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_promises_and_rekeys_rule_tasks():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    User = old.get_model("users", "User")
    Customer = old.get_model("ledger", "Customer")
    OldTask = old.get_model("activity", "Task")
    OldPromise = old.get_model("activity", "Promise")
    cara = User.objects.create(username="cara", role="collector")
    mo = User.objects.create(username="mo", role="collector")
    customer = Customer.objects.create(external_id="OLD", name="Old", collector=cara)
    by_mo = OldPromise.objects.create(
        customer=customer, amount=10, currency="USD", promised_date=dt.date(2026, 3, 10), created_by=mo
    )
    by_system = OldPromise.objects.create(
        customer=customer, amount=5, currency="USD", promised_date=dt.date(2026, 3, 9)
    )
    OldPromise.objects.filter(pk=by_mo.pk).update(created_at=dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC))
    call = OldTask.objects.create(
        customer=customer,
        kind="call",
        title="Call",
        due_date=dt.date(2026, 3, 2),
        source_key="dunning-call:17",
    )
    sla = OldTask.objects.create(
        customer=customer,
        kind="escalation",
        title="SLA",
        due_date=dt.date(2026, 3, 2),
        source_key="dispute-sla:4",
    )
    manual = OldTask.objects.create(
        customer=customer, kind="review", title="By hand", due_date=dt.date(2026, 3, 2)
    )

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)

    promises = {p.pk: p for p in Promise.objects.all()}
    assert (promises[by_mo.pk].made_on, promises[by_mo.pk].owner_id) == (dt.date(2026, 3, 1), mo.pk)
    assert promises[by_system.pk].owner_id == cara.pk and promises[by_system.pk].made_on is not None
    tasks = {t.pk: t for t in Task.objects.select_related("rule")}
    assert (tasks[call.pk].source_key, tasks[call.pk].rule.trigger) == ("dunning_call:17", "dunning_call")
    assert (tasks[sla.pk].source_key, tasks[sla.pk].rule.trigger) == ("dispute_sla:4", "dispute_sla")
    assert (tasks[manual.pk].source_key, tasks[manual.pk].rule) == ("", None)
    assert TaskRule.objects.count() == 4
