"""The staging table an import loads into, and a thin SQL helper over Django's connection.

PostgreSQL fills the staging table with COPY; SQLite with executemany in batches. Everything after that is
the same set-based SQL on both (SQLite ≥ 3.33 has UPDATE … FROM and INSERT … ON CONFLICT).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from itertools import islice
from typing import Any

from django.db import connection
from django.utils import timezone

from recoup.ledger.imports.fields import SCHEMAS
from recoup.ledger.imports.rows import Staged, as_text_row

STAGING = "recoup_import_rows"
_BATCH = 5_000

_PG_TYPES = {"date": "date", "amount": "numeric", "int": "bigint", "bool": "boolean"}
_SQLITE_TYPES = {"date": "text", "amount": "numeric", "int": "integer", "bool": "integer"}


class Db:
    """One import's SQL: the cursor, the dialect, and one timestamp for every row it writes."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor
        self.postgres = connection.vendor == "postgresql"
        self.now = connection.ops.adapt_datetimefield_value(timezone.now())

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        self.cursor.execute(sql, params)
        return max(self.cursor.rowcount, 0)

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.cursor.execute(sql, params)
        return list(self.cursor.fetchall())

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        self.cursor.execute(sql, params)
        row = self.cursor.fetchone()
        return row[0] if row else None

    def differs(self, left: str, right: str) -> str:
        """A null-safe "not equal"."""
        return f"{left} IS DISTINCT FROM {right}" if self.postgres else f"{left} IS NOT {right}"

    # The staging table ---------------------------------------------------------------------------------------

    def create_staging(self, kind: str) -> list[str]:
        types = _PG_TYPES if self.postgres else _SQLITE_TYPES
        columns = ["line"] + [field.name for field in SCHEMAS[kind]]
        ddl = ", ".join(["line integer"] + [f"{f.name} {types.get(f.kind, 'text')}" for f in SCHEMAS[kind]])
        self.drop_staging()
        self.execute(f"CREATE TEMPORARY TABLE {STAGING} ({ddl})")
        return columns

    def drop_staging(self) -> None:
        self.execute(f"DROP TABLE IF EXISTS {STAGING}")

    def load(self, columns: Sequence[str], rows: Iterable[Staged]) -> int:
        """Stream the staged rows in; returns how many."""
        names = ", ".join(columns)
        count = 0
        if self.postgres:
            with self.cursor.cursor.copy(f"COPY {STAGING} ({names}) FROM STDIN") as copy:
                write_row = copy.write_row
                for row in rows:
                    write_row(row)
                    count += 1
            self.execute(f"ANALYZE {STAGING}")
            return count
        sql = f"INSERT INTO {STAGING} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"
        iterator = iter(rows)
        while batch := [as_text_row(row) for row in islice(iterator, _BATCH)]:
            self.cursor.executemany(sql, batch)
            count += len(batch)
        return count

    def minor_units_case(self, column: str, currencies: Iterable[str]) -> tuple[str, list[Any]]:
        """SQL giving the minor units of the currency in `column`, for the currencies that occur."""
        from recoup.core.money import minor_units

        odd = [(code, minor_units(code)) for code in currencies if code and minor_units(code) != 2]
        if not odd:
            return "2", []
        whens = " ".join("WHEN %s THEN %s" for _ in odd)
        return f"CASE {column} {whens} ELSE 2 END", [value for pair in odd for value in pair]


def money_text(value: Any) -> str:
    """An amount read back from either database, for a message."""
    if value is None:
        return "0"
    number = (value if isinstance(value, Decimal) else Decimal(str(value))).quantize(Decimal("0.0001")).normalize()
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        number = number.quantize(Decimal("0.01"))
    return f"{number:f}"
