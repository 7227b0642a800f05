"""The staging table an import loads into, and a thin SQL helper over Django's connection.

PostgreSQL fills the staging table with COPY; SQLite with executemany in batches. Everything after that is
the same set-based SQL on both (SQLite ≥ 3.33 has UPDATE … FROM and INSERT … ON CONFLICT).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from itertools import islice
from typing import Any

from django.db import connection
from django.utils import timezone

from recoup.ledger.imports.fields import SCHEMAS
from recoup.ledger.imports.rows import Staged, as_text_row

STAGING = "recoup_import_rows"
_BATCH = 5_000
# Below this many rows an import maintains indexes as it goes (see Db.bulk).
BULK_MIN_ROWS = 100_000

_PG_TYPES = {"date": "date", "amount": "numeric", "int": "bigint", "bool": "boolean"}
_BINARY_TYPES = {"date": "date", "amount": "numeric", "int": "int8", "bool": "bool"}
_SQLITE_TYPES = {"date": "text", "amount": "numeric", "int": "integer", "bool": "integer"}


class Db:
    """One import's SQL: the cursor, the dialect, and one timestamp for every row it writes."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor
        self.postgres = connection.vendor == "postgresql"
        self.now = connection.ops.adapt_datetimefield_value(timezone.now())
        self._binary_types: list[str] = []

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

    # The staging table --------------------------------------------------------------------------------------

    def create_staging(self, kind: str) -> list[str]:
        types = _PG_TYPES if self.postgres else _SQLITE_TYPES
        columns = ["line"] + [field.name for field in SCHEMAS[kind]]
        ddl = ", ".join(["line integer"] + [f"{f.name} {types.get(f.kind, 'text')}" for f in SCHEMAS[kind]])
        self._binary_types = ["int4"] + [_BINARY_TYPES.get(f.kind, "text") for f in SCHEMAS[kind]]
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
            with self.cursor.cursor.copy(f"COPY {STAGING} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(self._binary_types)
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

    def bulk_applies(self, table: str, rows: int) -> bool:
        """Whether writing `rows` rows of `table` is a bulk load: on PostgreSQL, at least BULK_MIN_ROWS rows
        and at least a quarter of what the table holds."""
        if not self.postgres or rows < BULK_MIN_ROWS:
            return False
        held = self.scalar("SELECT GREATEST(reltuples, 0) FROM pg_class WHERE oid = %s::regclass", [table])
        return bool(rows * 4 >= held)

    @contextmanager
    def bulk(self, table: str, rows: int, *, keep_unique: bool = True) -> Iterator[bool]:
        """Around a statement writing `rows` rows of `table`; yields whether it is a bulk load.

        A bulk load drops the table's secondary indexes, foreign keys and (unless `keep_unique`, which ON
        CONFLICT needs) unique constraints, then re-creates them with the same names and definitions: building
        an index once is far cheaper than maintaining it row by row, and a re-added foreign key or unique
        constraint is checked in one pass instead of per row. The primary key stays. As with any import, the
        table is locked until the import commits; a bulk load also keeps readers out until then."""
        if not self.bulk_applies(table, rows):
            yield False
            return
        kinds = "'f'" if keep_unique else "'f', 'u'"
        constraints = self.fetch(
            f"SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass"
            f" AND contype IN ({kinds}) ORDER BY contype DESC",
            [table],
        )
        indexes = self.fetch(
            "SELECT c.relname, pg_get_indexdef(x.indexrelid)"
            " FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid"
            " WHERE x.indrelid = %s::regclass"
            "   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)",
            [table],
        )
        self.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending trigger events may block the ALTERs
        for name, _ in constraints:
            self.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            self.execute(f'DROP INDEX "{name}"')
        self.execute("SET CONSTRAINTS ALL DEFERRED")
        yield True
        self.execute("SET LOCAL maintenance_work_mem = '512MB'")
        for name, definition in reversed(constraints):  # unique constraints first, then foreign keys
            self.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for _, definition in indexes:
            self.execute(definition)
        self.execute(f"ANALYZE {table}")


def money_text(value: Any) -> str:
    """An amount read back from either database, for a message."""
    if value is None:
        return "0"
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    number = number.quantize(Decimal("0.0001")).normalize()
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        number = number.quantize(Decimal("0.01"))
    return f"{number:f}"
