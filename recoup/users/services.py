from __future__ import annotations

from django.db import transaction
from rest_framework.authtoken.models import Token

from recoup.core.events import record_event
from recoup.users.models import User


@transaction.atomic
def token_create(*, user: User, actor: User | None) -> Token:
    """Issue a fresh API token for `user`, replacing any earlier one."""
    Token.objects.filter(user=user).delete()
    token = Token.objects.create(user=user)
    record_event(actor=actor, verb="token.created", target=user)
    return token


@transaction.atomic
def token_revoke(*, user: User, actor: User | None) -> int:
    deleted, _ = Token.objects.filter(user=user).delete()
    record_event(actor=actor, verb="token.revoked", target=user, data={"deleted": deleted})
    return deleted
