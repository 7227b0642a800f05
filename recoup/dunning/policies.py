"""Policies as code: a policy file (YAML) ⇄ a checked `PolicySpec` ⇄ the database.

The minimal file names the policy and its levels; every other field has a default, and a level without
templates gets the built-in ones (recoup.dunning.defaults). `policy_as_dict` writes every field, so an
exported file imports back into the same policy and exports again byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import Any

import yaml
from django.template import TemplateSyntaxError

from recoup.core.errors import DomainError
from recoup.core.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS
from recoup.dunning import defaults
from recoup.dunning.models import DunningPolicy
from recoup.dunning.rendering import compile_template
from recoup.dunning.rules import CHANNELS, final_position
from recoup.users.models import Role

# What the columns hold: a policy file beyond these is refused with its reason, never a database error.
MAX_LEVELS = 50
MAX_DAYS = 3650  # offsets and gaps: ten years either way
MAX_AMOUNT = Decimal(10) ** (AMOUNT_MAX_DIGITS - AMOUNT_DECIMAL_PLACES)
LANGUAGE_MAX_LENGTH = 16

_POLICY_KEYS = {
    "name",
    "description",
    "default",
    "allow_level_jump",
    "tolerance",
    "default_language",
    "levels",
}
_LEVEL_KEYS = {"name", "offset_days", "channels", "min_amount", "min_gap_days", "actions", "templates"}
_ACTION_KEYS = {"task_for_role", "credit_hold"}


@dataclass
class LevelSpec:
    name: str
    offset_days: int
    channels: list[str]
    min_amount: Decimal = Decimal(0)
    min_gap_days: int = 0
    task_role: str = ""
    set_credit_hold: bool = False
    templates: dict[str, dict[str, str]] = field(default_factory=dict)  # language → subject, body


@dataclass
class PolicySpec:
    name: str
    levels: list[LevelSpec]
    description: str = ""
    is_default: bool = False
    allow_level_jump: bool = False
    tolerance: Decimal = Decimal("1.00")
    default_language: str = "en"


def parse_yaml(text: str, *, source: str = "the policy file") -> PolicySpec:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DomainError(f"{source} is not valid YAML: {exc}", field="file") from exc
    return parse_policy(data, source=source)


def parse_policy(data: Any, *, source: str = "the policy") -> PolicySpec:
    """Check a policy given as plain data; DomainError names the first problem and where it is."""
    if not isinstance(data, dict):
        raise DomainError(f"{source} must be a mapping with a name and levels.", field="file")
    _no_unknown(data, _POLICY_KEYS, source)
    name = _text(data.get("name"), f"{source}: name", field="name", required=True, max_length=100)
    raw_levels = data.get("levels")
    if not isinstance(raw_levels, list) or not raw_levels:
        raise DomainError(f"{source}: levels must be a non-empty list.", field="levels")
    if len(raw_levels) > MAX_LEVELS:
        raise DomainError(f"{source}: at most {MAX_LEVELS} levels, not {len(raw_levels)}.", field="levels")
    levels = [_parse_level(item, f"{source}: level {n}") for n, item in enumerate(raw_levels, start=1)]
    for n, (before, after) in enumerate(pairwise(levels), start=2):
        if after.offset_days <= before.offset_days:
            raise DomainError(
                f"{source}: level {n} ({after.name}) has offset_days {after.offset_days}, which must be "
                f"greater than level {n - 1}'s {before.offset_days}.",
                field="levels",
            )
    spec = PolicySpec(
        name=name,
        levels=levels,
        description=_text(data.get("description", ""), f"{source}: description", field="description"),
        is_default=_bool(data.get("default", False), f"{source}: default"),
        allow_level_jump=_bool(data.get("allow_level_jump", False), f"{source}: allow_level_jump"),
        tolerance=_amount(data.get("tolerance", "1.00"), f"{source}: tolerance", field="tolerance"),
        default_language=_text(
            data.get("default_language", "en"),
            f"{source}: default_language",
            field="default_language",
            max_length=16,
        )
        or "en",
    )
    _fill_templates(spec)
    return spec


def _parse_level(data: Any, where: str) -> LevelSpec:
    if not isinstance(data, dict):
        raise DomainError(f"{where} must be a mapping.", field="levels")
    _no_unknown(data, _LEVEL_KEYS, where)
    offset = data.get("offset_days")
    if isinstance(offset, bool) or not isinstance(offset, int):
        raise DomainError(f"{where}: offset_days must be a whole number of days.", field="offset_days")
    if abs(offset) > MAX_DAYS:
        raise DomainError(
            f"{where}: offset_days must be within {MAX_DAYS} days of the due date.", field="offset_days"
        )
    channels = data.get("channels", ["email"])
    if not isinstance(channels, list) or any(c not in CHANNELS for c in channels):
        raise DomainError(
            f"{where}: channels must be a list drawn from {', '.join(CHANNELS)}.", field="channels"
        )
    if len(set(channels)) != len(channels):
        raise DomainError(f"{where}: a channel is listed twice.", field="channels")
    actions = data.get("actions") or {}
    if not isinstance(actions, dict):
        raise DomainError(f"{where}: actions must be a mapping.", field="actions")
    _no_unknown(actions, _ACTION_KEYS, f"{where}: actions")
    role = actions.get("task_for_role") or ""
    if role and role not in Role.values:
        raise DomainError(f"{where}: task_for_role must be one of {', '.join(Role.values)}.", field="actions")
    credit_hold = _bool(actions.get("credit_hold", False), f"{where}: actions.credit_hold")
    if not channels and not role and not credit_hold:
        raise DomainError(f"{where}: a level needs a channel or an action.", field="channels")
    gap = data.get("min_gap_days", 0)
    if isinstance(gap, bool) or not isinstance(gap, int) or not 0 <= gap <= MAX_DAYS:
        raise DomainError(
            f"{where}: min_gap_days must be a whole number from 0 to {MAX_DAYS}.", field="min_gap_days"
        )
    templates = data.get("templates") or {}
    if not isinstance(templates, dict):
        raise DomainError(
            f"{where}: templates must map a language to a subject and a body.", field="templates"
        )
    checked: dict[str, dict[str, str]] = {}
    for language, text in templates.items():
        place = f"{where}: templates.{language}"
        if not isinstance(language, str) or not 0 < len(language.strip()) <= LANGUAGE_MAX_LENGTH:
            raise DomainError(
                f"{where}: a template's language is a code of 1 to {LANGUAGE_MAX_LENGTH} characters, such as "
                f"en or fr, not {str(language)[:40]!r}.",
                field="templates",
            )
        if not isinstance(text, dict) or set(text) != {"subject", "body"}:
            raise DomainError(f"{place} must have a subject and a body, and nothing else.", field="templates")
        checked[language.strip()] = check_template(text["subject"], text["body"], where=place)
    return LevelSpec(
        name=_text(data.get("name"), f"{where}: name", field="name", required=True, max_length=100),
        offset_days=offset,
        channels=list(channels),
        min_amount=_amount(data.get("min_amount", 0), f"{where}: min_amount", field="min_amount"),
        min_gap_days=gap,
        task_role=role,
        set_credit_hold=credit_hold,
        templates=checked,
    )


def _fill_templates(spec: PolicySpec) -> None:
    """A level that writes to the customer and names no template gets the built-in ones of its kind."""
    final = final_position(enumerate((level.channels for level in spec.levels), start=1))
    for position, level in enumerate(spec.levels, start=1):
        if not level.templates:
            level.templates = defaults.default_templates(
                defaults.template_kind(position, level.offset_days, final)
            )


def policy_as_dict(policy: DunningPolicy) -> dict[str, Any]:
    """Every field of the policy, in the file's shape. Reads levels and templates through `.all()`, so a
    caller that prefetched them (a list of policies) makes no query per policy."""
    levels = []
    for level in sorted(policy.levels.all(), key=lambda level: level.position):
        entry: dict[str, Any] = {
            "name": level.name,
            "offset_days": level.offset_days,
            "channels": list(level.channels),
            "min_amount": amount_text(level.min_amount),
            "min_gap_days": level.min_gap_days,
        }
        if level.task_role or level.set_credit_hold:
            entry["actions"] = {
                "task_for_role": level.task_role or None,
                "credit_hold": level.set_credit_hold,
            }
        entry["templates"] = {
            t.language: {"subject": t.subject, "body": t.body}
            for t in sorted(level.templates.all(), key=lambda t: t.language)
        }
        levels.append(entry)
    return {
        "name": policy.name,
        "description": policy.description,
        "default": policy.is_default,
        "allow_level_jump": policy.allow_level_jump,
        "tolerance": amount_text(policy.tolerance),
        "default_language": policy.default_language,
        "levels": levels,
    }


def policy_as_yaml(policy: DunningPolicy) -> str:
    return yaml.dump(policy_as_dict(policy), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, so template bodies read as they are written."""


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_presenter)


# Field checks -----------------------------------------------------------------------------------------------


def _no_unknown(data: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise DomainError(
            f"{where}: unknown keys {sorted(map(str, unknown))}; expected some of {sorted(allowed)}.",
            field="file",
        )


def _text(
    value: Any, where: str, *, field: str, required: bool = False, max_length: int | None = None
) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise DomainError(f"{where} must be text.", field=field)
    if "\x00" in value:
        raise DomainError(f"{where} may not contain NUL characters.", field=field)
    value = value.strip()
    if required and not value:
        raise DomainError(f"{where} is required.", field=field)
    if max_length is not None and len(value) > max_length:
        raise DomainError(f"{where} is longer than {max_length} characters.", field=field)
    return value


def check_template(subject: Any, body: Any, *, where: str) -> dict[str, str]:
    """A template's subject and body, checked: both present, and both valid dunning template syntax."""
    return {
        "subject": _template(subject, f"{where}: subject", field="subject", max_length=255),
        "body": _template(body, f"{where}: body", field="body"),
    }


def _template(value: Any, where: str, *, field: str, max_length: int | None = None) -> str:
    text = _text(value, where, field=field, required=True, max_length=max_length)
    try:
        compile_template(text)
    except TemplateSyntaxError as exc:
        raise DomainError(f"{where} is not a valid template: {exc}", field=field) from exc
    return text


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise DomainError(f"{where} must be true or false.", field="file")
    return value


def _amount(value: Any, where: str, *, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | str | float | Decimal):
        raise DomainError(f"{where} must be an amount such as 25.00.", field=field)
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise DomainError(f"{where} must be an amount such as 25.00, not {value!r}.", field=field) from exc
    if not amount.is_finite() or not 0 <= amount < MAX_AMOUNT:
        raise DomainError(f"{where} must be zero or more, and below {MAX_AMOUNT:,}.", field=field)
    if amount != amount.quantize(Decimal(1).scaleb(-AMOUNT_DECIMAL_PLACES)):
        raise DomainError(f"{where} may have at most {AMOUNT_DECIMAL_PLACES} decimals.", field=field)
    return amount


def amount_text(value: Decimal) -> str:
    """25.0000 → "25.00"; 0.1250 → "0.125": at least two decimals, no trailing zeros past them."""
    cents = value.quantize(Decimal("0.01"))
    return f"{cents if cents == value else value.normalize():f}"
