"""The project shell: the console script, settings that fail loudly, complete migrations, and set-up
files that stay true to the code."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from recoup.users.models import Role

ROOT = Path(__file__).resolve().parents[1]
RECOUP = Path(sys.executable).with_name("recoup")
# What the test process itself was started with; a subprocess must get only what each test gives it.
SETTINGS_ENV = {
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "SECRET_KEY",
    "DEBUG",
    "RECOUP_INSECURE_DEFAULTS",
    "RECOUP_UNAPPLIED_CASH",
    "RECOUP_DATA_DIR",
}


def run(args: list[str | Path], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {name: value for name, value in os.environ.items() if name not in SETTINGS_ENV}
    return subprocess.run(
        [str(a) for a in args],
        cwd=ROOT,
        env={**clean, "DATABASE_URL": "sqlite://:memory:", **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def setup_django(**env: str) -> subprocess.CompletedProcess[str]:
    """Load the production settings (config.settings) in a fresh interpreter."""
    return run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        DJANGO_SETTINGS_MODULE="config.settings",
        **env,
    )


# The console script -------------------------------------------------------------------------------


def test_recoup_console_script_runs_django_check():
    result = run([RECOUP, "check"], RECOUP_INSECURE_DEFAULTS="1")

    assert (result.returncode, result.stdout) == (0, "System check identified no issues (0 silenced).\n")


def test_recoup_console_script_lists_recoup_and_django_commands():
    result = run([RECOUP, "help", "--commands"], RECOUP_INSECURE_DEFAULTS="1")

    assert result.returncode == 0, result.stderr
    commands = set(result.stdout.split())
    ours = {"aging", "demo", "dunning", "import", "token"}
    assert ours | {"migrate", "createsuperuser", "runserver"} <= commands


# Settings -----------------------------------------------------------------------------------------


def test_production_settings_refuse_to_start_without_a_secret_key():
    result = setup_django()

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.rstrip().endswith(
        "django.core.exceptions.ImproperlyConfigured: "
        "The environment variable SECRET_KEY is required but not set."
    )


@pytest.mark.parametrize(
    "env", [{"SECRET_KEY": "a-real-secret"}, {"DEBUG": "1"}, {"RECOUP_INSECURE_DEFAULTS": "1"}]
)
def test_settings_start_with_a_secret_key_or_in_development(env):
    result = setup_django(**env)

    assert (result.returncode, result.stdout) == (0, "started\n"), result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG must be a boolean (true/false), not 'maybe'."),
        ({"EMAIL_PORT": "smtp"}, "EMAIL_PORT must be an integer, not 'smtp'."),
        (
            {"RECOUP_UNAPPLIED_CASH": "sometimes"},
            "RECOUP_UNAPPLIED_CASH must be 'unapplied' or 'oldest_first'.",
        ),
        (
            {"RECOUP_DUNNING_SEND_TIME": "9am"},
            "RECOUP_DUNNING_SEND_TIME must be a time of day such as 09:00, not '9am'.",
        ),
        (
            {"RECOUP_DUNNING_RUN_AT": "24:00"},
            "RECOUP_DUNNING_RUN_AT must be a time of day such as 09:00, not '24:00'.",
        ),
        (
            {"EMAIL_TIMEOUT": "60", "RECOUP_OUTBOX_LEASE_SECONDS": "100"},
            "RECOUP_OUTBOX_LEASE_SECONDS must exceed twice EMAIL_TIMEOUT, so a live sender never loses its "
            "claim.",
        ),
    ],
)
def test_settings_fail_loudly_on_a_bad_value(env, message):
    result = setup_django(SECRET_KEY="a-real-secret", **env)

    assert result.returncode == 1
    assert result.stderr.rstrip().endswith(f"django.core.exceptions.ImproperlyConfigured: {message}")


@pytest.mark.django_db
def test_migrations_are_complete():
    out = StringIO()

    call_command("makemigrations", "--check", "--dry-run", stdout=out)

    assert out.getvalue() == "No changes detected\n"


# API tokens ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_token_create_prints_a_token_that_authenticates(make_user):
    alice = make_user(Role.VIEWER, "alice")
    out = StringIO()

    call_command("token", "create", "--user", "alice", stdout=out)

    key = out.getvalue().strip()
    assert re.fullmatch(r"[0-9a-f]{40}", key)
    assert Token.objects.get(user=alice).key == key
    response = APIClient().get("/api/v1/customers/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200
    assert response.json()["count"] == 0
    assert APIClient().get("/api/v1/customers/").status_code == 401
    assert APIClient().get("/api/v1/customers/", HTTP_AUTHORIZATION=f"Token {'0' * 40}").status_code == 401


@pytest.mark.django_db
def test_a_new_token_replaces_the_old_one(make_user):
    make_user(Role.VIEWER, "alice")
    first, second = StringIO(), StringIO()

    call_command("token", "create", "--user", "alice", stdout=first)
    call_command("token", "create", "--user", "alice", stdout=second)

    old, new = first.getvalue().strip(), second.getvalue().strip()
    assert old != new
    assert Token.objects.count() == 1
    assert APIClient().get("/api/v1/customers/", HTTP_AUTHORIZATION=f"Token {old}").status_code == 401
    assert APIClient().get("/api/v1/customers/", HTTP_AUTHORIZATION=f"Token {new}").status_code == 200


# Set-up files that must stay true -----------------------------------------------------------------


def test_env_example_documents_exactly_the_settings_read_from_the_environment():
    settings_source = (ROOT / "config" / "settings.py").read_text()
    read = set(re.findall(r"env_(?:str|bool|int|list|time)\(\s*\"([A-Z0-9_]+)\"", settings_source))
    documented = set(re.findall(r"^([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), flags=re.M))

    assert "SECRET_KEY" in read
    assert documented == read


def test_readme_opens_with_exactly_the_two_setup_commands():
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```[a-z]*\n(.*?)```", readme, flags=re.S)

    assert first_block is not None
    assert first_block.group(1).splitlines() == ["make demo", "make test"]


def test_ci_runs_make_test_under_ci_true():
    script = (ROOT / ".ci" / "run").read_text()

    assert os.access(ROOT / ".ci" / "run", os.X_OK)
    assert script.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in script
    assert "\nexport CI=true\n" in script
    assert re.search(r"^make --no-print-directory test \|\| make_test_status=\$\?$", script, flags=re.M)
    assert re.search(r"^check migrations-check$", script, flags=re.M)
    assert subprocess.run(["bash", "-n", str(ROOT / ".ci" / "run")], check=False).returncode == 0


needs_make = pytest.mark.skipif(
    shutil.which("make") is None and os.environ.get("CI") != "true", reason="make is not installed"
)


@needs_make
@pytest.mark.parametrize("target", ["demo", "test", "lint", "typecheck", "migrations-check", "bench"])
def test_makefile_has_every_documented_target(target):
    result = run(["make", "-n", target, "NO_INSTALL=1"])

    assert result.returncode == 0, result.stderr


@needs_make
def test_make_test_treats_no_tests_collected_as_a_failure():
    result = run(
        [
            "make",
            "--no-print-directory",
            "test-sqlite",
            "NO_INSTALL=1",
            f"BIN={Path(sys.executable).parent}",
            "PYTEST_ARGS=tests/test_project.py -k no_such_test_here",
        ]
    )

    assert result.returncode != 0
    assert "pytest collected no tests: that is a failure." in result.stderr
    assert "deselected" in result.stdout


def test_every_local_link_in_the_readme_and_docs_points_at_a_file():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # http:, https:, mailto:
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} → {target}")

    assert broken == []


# Dunning from the command line ----------------------------------------------------------------------


def test_a_dunning_run_for_a_date_before_the_last_one_exits_non_zero(tmp_path):
    database = {"DATABASE_URL": f"sqlite:///{tmp_path / 'recoup.sqlite3'}", "RECOUP_INSECURE_DEFAULTS": "1"}
    assert run([RECOUP, "migrate", "-v", "0"], **database).returncode == 0

    first = run([RECOUP, "dunning", "run", "--as-of", "2026-03-10"], **database)
    again = run([RECOUP, "dunning", "run", "--as-of", "2026-03-10"], **database)
    earlier = run([RECOUP, "dunning", "run", "--as-of", "2026-03-09"], **database)

    assert (first.returncode, again.returncode) == (0, 0), first.stderr + again.stderr
    assert first.stdout.startswith("Dunning run as of 2026-03-10 (run 1)\nCustomers: 0   messages: 0")
    assert earlier.returncode == 1
    assert earlier.stderr.strip() == (
        "CommandError: A run as of 2026-03-09 is refused: the last run was as of 2026-03-10, and runs never "
        "go back in time."
    )
