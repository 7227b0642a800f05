"""Who may act on a task or a promise, as services check it (the system, `actor=None`, may do anything)."""

from __future__ import annotations

from typing import Any

from recoup.activity import rules
from recoup.activity.models import Promise, Task
from recoup.core.errors import NotAllowed

TASK_REFUSED = "You may act only on your own tasks (managers act on every task)."
PROMISE_REFUSED = "You may cancel only the promises you follow up or made (managers cancel any)."


def may_act_on(actor: Any, task: Task) -> bool:
    if actor is None:
        return True
    if not (getattr(actor, "is_authenticated", False) and actor.is_active):
        return False
    return rules.may_act_on_task(
        role=actor.role, user_id=actor.pk, owner_id=task.owner_id, task_role=task.role
    )


def check_task_actor(actor: Any, task: Task) -> None:
    if not may_act_on(actor, task):
        raise NotAllowed(TASK_REFUSED)


def may_cancel(actor: Any, promise: Promise) -> bool:
    if actor is None:
        return True
    if not (getattr(actor, "is_authenticated", False) and actor.is_active):
        return False
    if actor.role in rules.MANAGING_ROLES:
        return True
    if actor.role not in rules.WORKING_ROLES:
        return False
    return actor.pk in (promise.owner_id, promise.created_by_id)
