"""JSON parsing that never goes through float: numbers in request bodies arrive as Decimal."""

from __future__ import annotations

import codecs
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


class DecimalJSONParser(JSONParser):
    """Like DRF's JSONParser, but `1.10` parses as Decimal("1.10") and NaN/Infinity are refused."""

    parse_float: Any = Decimal

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json.load(
                codecs.getreader(encoding)(stream),
                parse_float=self.parse_float,
                parse_constant=_refuse_constant,
            )
        except ValueError as exc:  # also UnicodeDecodeError and ints too long to convert
            raise ParseError(f"JSON parse error - {exc}") from exc
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply") from exc
        _refuse_nul(data)
        return data


def _refuse_nul(data: Any) -> None:
    """PostgreSQL cannot hold a NUL character in text, in a value or a lookup: no request may carry one."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ParseError("JSON parse error - text may not contain NUL characters (\\u0000)")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


class PolicyJSONParser(DecimalJSONParser):
    """For policy bodies, checked by recoup.dunning.policies.parse_policy as a YAML file's data is: a number
    with a fraction arrives as its text ("25.00"), which parse_policy reads as an amount exactly, and refuses
    where it wants a whole number of days, as it does 25.0 in a file."""

    parse_float: Any = str
