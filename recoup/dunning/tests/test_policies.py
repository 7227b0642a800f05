"""Policies as code: the minimal file, the exact round trip, every refusal with its reason, updates that keep
history intact, and the sandbox a template renders in."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.template import TemplateSyntaxError

from recoup.core.errors import DomainError
from recoup.dunning import policies, services
from recoup.dunning.defaults import DEFAULT_POLICY, TEMPLATES
from recoup.dunning.models import DunningLevel, DunningPolicy, DunningTemplate
from recoup.dunning.rendering import compile_template, render_template

pytestmark = pytest.mark.django_db

MINIMAL = """\
name: Three steps
levels:
  - {name: First reminder, offset_days: 5, channels: [email]}
  - {name: Second reminder, offset_days: 20, channels: [email]}
  - {name: Final notice, offset_days: 40, channels: [email]}
"""


def test_the_first_migration_creates_the_default_policy():
    policy = DunningPolicy.objects.get(is_default=True)
    levels = list(
        policy.levels.order_by("position").values_list(
            "name", "offset_days", "channels", "min_gap_days", "task_role", "set_credit_hold"
        )
    )

    assert policy.name == "Standard"
    assert levels == [
        ("Friendly notice", -3, ["email"], 0, "", False),
        ("Reminder", 3, ["email"], 3, "", False),
        ("Second reminder", 15, ["email"], 5, "", False),
        ("Call", 30, ["call", "email"], 5, "", False),
        ("Final notice", 45, ["email"], 5, "", False),
        ("Escalation", 60, [], 0, "manager", True),
    ]
    languages = set(DunningTemplate.objects.filter(level__policy=policy).values_list("language", flat=True))
    assert languages == {"en", "fr", "de"}
    final = DunningTemplate.objects.get(level__policy=policy, level__position=5, language="en")
    assert final.subject == TEMPLATES["final"]["en"]["subject"]


def test_the_minimal_file_imports_with_defaults_and_built_in_templates(tmp_path):
    path = tmp_path / "three.yaml"
    path.write_text(MINIMAL)
    out = io.StringIO()

    call_command("dunning", "policy", "import", str(path), stdout=out)

    assert out.getvalue() == "Created policy 'Three steps' with 3 levels.\n"
    policy = DunningPolicy.objects.get(name="Three steps")
    assert (policy.is_default, policy.allow_level_jump, policy.tolerance, policy.default_language) == (
        False, False, Decimal("1.00"), "en"
    )  # fmt: skip
    [first, _, final] = policy.levels.order_by("position")
    assert (first.min_amount, first.min_gap_days, first.task_role, first.set_credit_hold) == (0, 0, "", False)
    assert first.templates.get(language="en").subject == TEMPLATES["reminder"]["en"]["subject"]
    assert final.templates.get(language="en").subject == TEMPLATES["final"]["en"]["subject"]


def test_export_then_import_then_export_gives_the_same_file(tmp_path):
    first = io.StringIO()
    call_command("dunning", "policy", "export", "Standard", stdout=first)
    path = tmp_path / "standard.yaml"
    path.write_text(first.getvalue())
    renamed = (
        first.getvalue()
        .replace("name: Standard\n", "name: Standard copy\n", 1)
        .replace("default: true", "default: false", 1)
    )
    (tmp_path / "copy.yaml").write_text(renamed)

    call_command("dunning", "policy", "import", str(path), stdout=io.StringIO())
    call_command("dunning", "policy", "import", str(tmp_path / "copy.yaml"), stdout=io.StringIO())
    again, copy = io.StringIO(), io.StringIO()
    call_command("dunning", "policy", "export", "Standard", stdout=again)
    call_command("dunning", "policy", "export", "Standard copy", stdout=copy)

    assert again.getvalue() == first.getvalue()
    assert copy.getvalue() == renamed
    assert first.getvalue().startswith("name: Standard\ndescription: A friendly notice")
    assert "  actions:\n    task_for_role: manager\n    credit_hold: true\n" in first.getvalue()
    assert DunningPolicy.objects.filter(is_default=True).count() == 1


X = "name: X\nlevels: "


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: [unclosed", "is not valid YAML"),
        ("- just a list", "must be a mapping with a name and levels"),
        (X + "[]", "levels must be a non-empty list"),
        ("levels: [{name: A, offset_days: 1}]", "name is required"),
        ("colour: red\n" + X + "[{name: A, offset_days: 1}]", "unknown keys ['colour']"),
        (X + "[{name: A, offset_days: soon}]", "level 1: offset_days must be a whole number of days"),
        (
            X + "[{name: A, offset_days: 5}, {name: B, offset_days: 5}]",
            "level 2 (B) has offset_days 5, which must be greater than level 1's 5",
        ),
        (
            X + "[{name: A, offset_days: 1, channels: [fax]}]",
            "channels must be a list drawn from email, letter, call",
        ),
        (X + "[{name: A, offset_days: 1, channels: []}]", "a level needs a channel or an action"),
        (
            X + "[{name: A, offset_days: 1, actions: {task_for_role: boss}}]",
            "task_for_role must be one of admin, manager, collector, resolver, viewer",
        ),
        (X + "[{name: A, offset_days: 1, min_amount: -5}]", "min_amount must be zero or more"),
        (X + "[{name: A, offset_days: 1, min_gap_days: -1}]", "min_gap_days must be a whole number"),
        ("tolerance: lots\n" + X + "[{name: A, offset_days: 1}]", "tolerance must be an amount"),
        (
            X + "[{name: A, offset_days: 1, templates: {en: {subject: Hi}}}]",
            "templates.en must have a subject and a body, and nothing else",
        ),
        (
            X + "\n  - name: A\n    offset_days: 1\n    templates:\n      en:\n        subject: '{% if %}'\n"
            "        body: b\n",
            "templates.en: subject is not a valid template",
        ),
        (
            X + "[{name: A, offset_days: 1, templates: {en: {subject: s, body: '{% load static %}'}}}]",
            "body is not a valid template: {% load %} is not allowed in a dunning template",
        ),
    ],
)
def test_a_bad_file_is_refused_with_its_reason_and_nothing_is_written(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    before = (DunningPolicy.objects.count(), DunningLevel.objects.count(), DunningTemplate.objects.count())

    with pytest.raises(CommandError) as refused:
        call_command("dunning", "policy", "import", str(path))

    assert message in str(refused.value)
    assert str(refused.value).startswith(str(path))
    assert (
        DunningPolicy.objects.count(),
        DunningLevel.objects.count(),
        DunningTemplate.objects.count(),
    ) == before


def test_an_unreadable_file_and_an_unknown_policy_are_refused():
    with pytest.raises(CommandError, match=r"missing\.yaml: cannot read the file"):
        call_command("dunning", "policy", "import", "missing.yaml")
    with pytest.raises(CommandError, match=r"No policy named 'Nope' \(policies: Standard\)"):
        call_command("dunning", "policy", "export", "Nope")


def test_updating_a_policy_matches_levels_by_position_and_keeps_those_in_use(books):
    policy, _ = services.policy_save(actor=None, spec=policies.parse_yaml(MINIMAL))
    customer = books.customer("USED", dunning_policy=policy)
    books.invoice(customer, dt.date(2026, 3, 2))
    services.dunning_run(actor=None, as_of=dt.date(2026, 3, 8))  # level 1
    services.dunning_run(actor=None, as_of=dt.date(2026, 3, 23))  # level 2
    level_ids = list(policy.levels.order_by("position").values_list("pk", flat=True))

    renamed = MINIMAL.replace("First reminder, offset_days: 5", "Gentle reminder, offset_days: 6")
    services.policy_save(actor=None, spec=policies.parse_yaml(renamed))
    two = "name: Three steps\nlevels:\n  - {name: Only, offset_days: 5}\n  - {name: Last, offset_days: 9}\n"
    services.policy_save(actor=None, spec=policies.parse_yaml(two))  # level 3 was never reached: removed
    one = "name: Three steps\nlevels: [{name: Alone, offset_days: 1}]"
    with pytest.raises(DomainError, match=r"Level 2 \(Last\) of Three steps has been reached"):
        services.policy_save(actor=None, spec=policies.parse_yaml(one))

    assert list(policy.levels.order_by("position").values_list("pk", "name", "offset_days")) == [
        (level_ids[0], "Only", 5),
        (level_ids[1], "Last", 9),
    ]


def test_a_policy_in_use_or_the_default_cannot_be_deleted(books):
    policy, _ = services.policy_save(actor=None, spec=policies.parse_yaml(MINIMAL))
    books.customer("ASSIGNED", dunning_policy=policy)

    with pytest.raises(DomainError, match="assigned to 1 customers or invoices"):
        services.policy_delete(actor=None, policy=policy)
    with pytest.raises(DomainError, match="The default policy cannot be deleted"):
        services.policy_delete(actor=None, policy=DunningPolicy.objects.get(is_default=True))
    assert DunningPolicy.objects.count() == 2


def test_making_a_policy_the_default_unsets_the_old_one():
    spec = policies.parse_yaml(MINIMAL + "default: true\n")

    policy, _ = services.policy_save(actor=None, spec=spec)

    assert list(DunningPolicy.objects.filter(is_default=True)) == [policy]


# The template sandbox -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{% include "dunning/email.html" %}',
        '{% extends "base.html" %}',
        "{% load static %}",
        "{% debug %}",
    ],
)
def test_a_template_may_not_reach_files_libraries_or_the_context(text):
    with pytest.raises(TemplateSyntaxError):
        compile_template(text)


def test_a_template_escapes_for_html_and_leaves_text_as_it_is():
    context = {"customer_name": "<b>Smith & Co</b>"}

    assert (
        render_template("Dear {{ customer_name }}", context, html=True)
        == "Dear &lt;b&gt;Smith &amp; Co&lt;/b&gt;"
    )
    assert render_template("Dear {{ customer_name }}", context) == "Dear <b>Smith & Co</b>"


def test_the_default_policy_file_in_defaults_matches_what_the_migration_made(tmp_path):
    """The migration and a policy file made from DEFAULT_POLICY describe the same levels."""
    spec = policies.parse_policy({**DEFAULT_POLICY, "name": "Again", "default": False})
    policy, _ = services.policy_save(actor=None, spec=spec)
    made = policies.policy_as_dict(DunningPolicy.objects.get(name="Standard"))
    again = policies.policy_as_dict(policy)

    assert again["levels"] == made["levels"]
    assert Path(tmp_path).exists()


def test_the_default_policy_cannot_be_unset_by_its_own_file():
    spec = policies.parse_policy({**DEFAULT_POLICY, "default": False})

    with pytest.raises(DomainError, match="Standard is the default policy: make another policy the default"):
        services.policy_save(actor=None, spec=spec)
    assert DunningPolicy.objects.get(name="Standard").is_default


TEXT = {"subject": "s", "body": "b"}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"tolerance": "1" + "0" * 30}, "tolerance", "below 1,000,000,000,000,000"),
        ({"tolerance": "0.00001"}, "tolerance", "at most 4 decimals"),
        ({"levels": [{"name": "A", "offset_days": 4000}]}, "offset_days", "within 3650 days"),
        ({"levels": [{"name": f"L{n}", "offset_days": n} for n in range(51)]}, "levels", "at most 50 levels"),
        ({"levels": [{"name": "A", "offset_days": 1, "templates": {"x" * 17: TEXT}}]}, "templates",
         "a code of 1 to 16 characters"),
        ({"description": "bad\x00byte"}, "description", "NUL characters"),
    ],
)  # fmt: skip
def test_a_policy_beyond_what_the_columns_hold_is_refused(change, field, message):
    data = {"name": "Big", "levels": [{"name": "A", "offset_days": 1}], **change}

    with pytest.raises(DomainError) as refused:
        policies.parse_policy(data)

    assert (refused.value.field, message in refused.value.message) == (field, True)
