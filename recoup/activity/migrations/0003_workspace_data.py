"""Data for the collector workspace: the default task rule of each trigger; promises made before made_on and
owner existed get them (the day they were recorded, in TIME_ZONE; their maker, else the customer's
collector); open tasks made by the dunning call level and the dispute SLA check take the rule engine's keys
(`<trigger>:<subject>`) and their rule, so a rule firing again finds them."""

from django.db import migrations

# A frozen copy of recoup.activity.defaults.DEFAULT_TASK_RULES as of this migration.
RULES = (
    ("dunning_call", "call", 0),
    ("broken_promise", "call", 0),
    ("dispute_sla", "escalation", 0),
    ("credit_limit", "review", 0),
)
OLD_KEYS = {"dunning-call:": "dunning_call", "dispute-sla:": "dispute_sla"}


def forwards(apps, schema_editor):
    from django.utils import timezone

    TaskRule = apps.get_model("activity", "TaskRule")
    Task = apps.get_model("activity", "Task")
    Promise = apps.get_model("activity", "Promise")
    rules = {}
    for trigger, kind, days in RULES:
        rules[trigger], _ = TaskRule.objects.get_or_create(
            trigger=trigger, defaults={"kind": kind, "due_in_days": days}
        )
    changed = []
    for promise in Promise.objects.filter(made_on__isnull=True).select_related("customer"):
        promise.made_on = timezone.localdate(promise.created_at)
        if promise.owner_id is None:
            promise.owner_id = promise.created_by_id or promise.customer.collector_id
        changed.append(promise)
    Promise.objects.bulk_update(changed, ["made_on", "owner"], batch_size=500)
    for old, trigger in OLD_KEYS.items():
        tasks = []
        for task in Task.objects.filter(source_key__startswith=old):
            task.source_key = f"{trigger}:{task.source_key[len(old) :]}"
            task.rule = rules[trigger]
            tasks.append(task)
        Task.objects.bulk_update(tasks, ["source_key", "rule"], batch_size=500)


def backwards(apps, schema_editor):
    Task = apps.get_model("activity", "Task")
    for old, trigger in OLD_KEYS.items():
        tasks = []
        for task in Task.objects.filter(source_key__startswith=f"{trigger}:"):
            task.source_key = f"{old}{task.source_key[len(trigger) + 1 :]}"
            tasks.append(task)
        Task.objects.bulk_update(tasks, ["source_key"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("activity", "0002_workspace")]

    operations = [migrations.RunPython(forwards, backwards)]
