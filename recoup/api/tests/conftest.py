"""API test helpers: a client per role, authenticated with a real token."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from recoup.users.models import Role, User
from recoup.users.services import token_create


@pytest.fixture
def client_for(make_user) -> Callable[..., APIClient]:
    """client_for(Role.MANAGER) or client_for(user): an APIClient sending that user's API token."""

    def make(who: str | User) -> APIClient:
        user = who if isinstance(who, User) else make_user(who)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=user, actor=None).key}")
        client.user = user  # type: ignore[attr-defined]
        return client

    return make


@pytest.fixture
def api(client_for) -> APIClient:
    """A manager's client: allowed every ledger write."""
    return client_for(Role.MANAGER)


@pytest.fixture
def reader(client_for) -> APIClient:
    return client_for(Role.VIEWER)
