"""Project-wide pytest set-up: the environment tests need, and fixtures every app shares."""

from __future__ import annotations

import os

# Playwright's sync API runs an event loop in the main thread; pytest-django's DB set-up must still run.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

import pytest

from recoup.ledger import kept
from recoup.users.models import Role, User

# The SMTP and IMAP (Dovecot) servers, the ledger builder and the default policy, for every app's tests.
pytest_plugins = ["recoup.core.tests.support", "recoup.activity.tests.imap_support"]


def pytest_report_header(config: pytest.Config) -> str:
    from django.conf import settings

    return f"recoup database: {settings.DATABASES['default']['ENGINE']}"


@pytest.fixture
def make_user(db):  # type: ignore[no-untyped-def]
    def make(role: str = Role.VIEWER, username: str | None = None) -> User:
        name = username or f"{role}-{User.objects.count() + 1}"
        return User.objects.create_user(
            username=name, password="pw-" + name, role=role, email=f"{name}@example.com"
        )

    return make


@pytest.fixture
def admin_user(make_user):  # type: ignore[no-untyped-def]
    return make_user(Role.ADMIN, "admin")


@pytest.fixture
def manager(make_user):  # type: ignore[no-untyped-def]
    return make_user(Role.MANAGER, "manager")


@pytest.fixture
def collector(make_user):  # type: ignore[no-untyped-def]
    return make_user(Role.COLLECTOR, "collector")


@pytest.fixture
def viewer(make_user):  # type: ignore[no-untyped-def]
    return make_user(Role.VIEWER, "viewer")


@pytest.fixture(autouse=True)
def nothing_kept():  # type: ignore[no-untyped-def]
    """No figure kept from an earlier test (recoup.ledger.kept): the database is emptied between tests, and
    with it the ledger's watermark, whose counts then start again and can meet a kept figure's. Production
    never empties it (docs/reports.md, "When a snapshot is the ledger's answer")."""
    kept.forget()
    yield
    kept.forget()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):  # type: ignore[no-untyped-def]
    """Uploaded and generated files (dispute documents, letters) go to the test's own folder, never var/."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT
