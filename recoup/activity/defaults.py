"""The task rules an installation starts with: one per trigger, active, due the day the trigger fires.

The migration 0003 installs a frozen copy; tests whose database was flushed call install_task_rules().
"""

from __future__ import annotations

from recoup.activity.models import TaskKind, TaskRule, TaskTrigger

DEFAULT_TASK_RULES: tuple[tuple[str, str, int], ...] = (
    (TaskTrigger.DUNNING_CALL, TaskKind.CALL, 0),
    (TaskTrigger.BROKEN_PROMISE, TaskKind.CALL, 0),
    (TaskTrigger.DISPUTE_SLA, TaskKind.ESCALATION, 0),
    (TaskTrigger.CREDIT_LIMIT, TaskKind.REVIEW, 0),
)


def install_task_rules() -> list[TaskRule]:
    """The default rule of every trigger that has none (an existing rule is left as it is)."""
    return [
        TaskRule.objects.get_or_create(trigger=trigger, defaults={"kind": kind, "due_in_days": days})[0]
        for trigger, kind, days in DEFAULT_TASK_RULES
    ]
