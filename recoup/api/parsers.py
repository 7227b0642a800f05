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

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json.load(
                codecs.getreader(encoding)(stream), parse_float=Decimal, parse_constant=_refuse_constant
            )
        except ValueError as exc:  # also UnicodeDecodeError and ints too long to convert
            raise ParseError(f"JSON parse error - {exc}") from exc
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply") from exc
