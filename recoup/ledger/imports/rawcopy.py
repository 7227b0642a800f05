"""The fast path for plain CSV documents on PostgreSQL: COPY the file as it is, then convert it in SQL.

Parsing two million rows in Python costs more than everything the database does with them, so a clean
file in the plain formats (ISO dates, plain decimals, three-letter currencies, no templates or date
formats) goes straight into a text table through COPY's own CSV parser, is checked there with strict
patterns, and is cast into the staging table in one statement.

The fast path only ever accepts: anything it is not sure of (a row it would reject, a quoted line break
that would shift line numbers, a currency without two decimals, a COPY error) rolls it back to its
savepoint and returns None, and the caller parses the file row by row, which names every problem exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from django.db import DatabaseError, transaction

from recoup.core.money import CURRENCIES_NOT_TWO_DECIMALS
from recoup.ledger.imports.mapping import CompiledMapping, Mapping, Source
from recoup.ledger.imports.readers import XLSX_SUFFIXES
from recoup.ledger.imports.staging import STAGING, Db

RAW = "recoup_import_raw"
_CHUNK = 1 << 20
_DELIMITERS = {",": "','", ";": "';'", "|": "'|'", "\t": "E'\\t'"}


class _NotClean(Exception):
    pass


def applies(db: Db, *, kind: str, path: str | Path, mapping: Mapping, compiled: CompiledMapping) -> bool:
    return (
        db.postgres
        and kind != "customers"
        and Path(path).suffix.lower() not in XLSX_SUFFIXES
        and mapping.encoding.lower().replace("-", "").replace("_", "") in {"utf8", "utf8sig"}
        and mapping.delimiter in _DELIMITERS
        and not mapping.formats
        and not mapping.skip_if_empty
        and not mapping.distinct
        and all(source.template is None for source in compiled.sources)
    )


def load(
    db: Db,
    *,
    kind: str,
    path: str | Path,
    mapping: Mapping,
    compiled: CompiledMapping,
    progress: Callable[[int], None] | None = None,
) -> int | None:
    """Fill the staging table from `path`; returns the row count, or None (having written nothing)."""
    try:
        with transaction.atomic():
            count = _load(db, kind, Path(path), mapping, compiled, progress)
            db.execute(f"DROP TABLE {RAW}")
            db.execute(f"ANALYZE {STAGING}")
            return count
    except (_NotClean, DatabaseError, psycopg.Error):
        return None


def _load(
    db: Db,
    kind: str,
    path: Path,
    mapping: Mapping,
    compiled: CompiledMapping,
    progress: Callable[[int], None] | None,
) -> int:
    width = compiled.width
    columns = ", ".join(f"c{i}" for i in range(width))
    db.execute(
        f"CREATE TEMPORARY TABLE {RAW} (n bigint GENERATED ALWAYS AS IDENTITY, "
        + ", ".join(f"c{i} text" for i in range(width))
        + ")"
    )
    newlines, last = 0, b"\n"
    delimiter = _DELIMITERS[mapping.delimiter]
    copy_sql = f"COPY {RAW} ({columns}) FROM STDIN (FORMAT csv, HEADER true, DELIMITER {delimiter})"
    with path.open("rb") as handle, db.cursor.cursor.copy(copy_sql) as copy:
        while chunk := handle.read(_CHUNK):
            copy.write(chunk)
            lines = chunk.count(b"\n")
            newlines += lines
            last = chunk[-1:]
            if progress is not None:
                progress(lines)
    rows = db.scalar(f"SELECT COUNT(*) FROM {RAW}")
    physical = newlines + (0 if last == b"\n" else 1)
    if rows != physical - 1:
        raise _NotClean("a quoted line break or a blank line: line numbers would not hold")

    # Cast into the staging table; a value in a form the casts might read differently from the row parser
    # becomes NULL, and a value they cannot read raises. Both send the file down the slow path.
    values: list[str] = []
    checks: list[str] = []
    params: list[Any] = []
    for source in compiled.sources:
        value, check = _convert(source, params)
        values.append(value)
        checks.append(check)
    names = [source.field.name for source in compiled.sources]
    count = db.execute(
        f"INSERT INTO {STAGING} (line, {', '.join(names)}) SELECT n + 1, {', '.join(values)} FROM {RAW}",
        params,
    )
    if kind == "invoices":
        checks.append("due_date >= issue_date")
    if db.scalar(
        f"SELECT EXISTS (SELECT 1 FROM {STAGING} WHERE NOT COALESCE({' AND '.join(checks)}, false))"
    ):
        raise _NotClean("a row the row-by-row parser must judge")
    for (currency,) in db.fetch(f"SELECT DISTINCT currency FROM {STAGING} WHERE currency IS NOT NULL"):
        if (
            len(currency) != 3
            or not currency.isascii()
            or not currency.isalpha()
            or currency in CURRENCIES_NOT_TWO_DECIMALS  # their decimals need the row parser's check
        ):
            raise _NotClean(f"currency {currency!r}: the row parser checks it and its decimals")
    return count


def _convert(source: Source, params: list[Any]) -> tuple[str, str]:
    """SQL casting one field into the staging table, and the condition a staged row must meet."""
    field = source.field
    name = field.name
    if source.index < 0:
        if source.constant is None:
            return "NULL", "true"
        params.append(source.constant)
        return "%s", "true"
    cell = f"c{source.index}"
    required = f"{name} IS NOT NULL" if field.required else "true"
    if field.kind == "date":
        return f"CASE WHEN {cell} LIKE '____-__-__' THEN {cell}::date END", required
    if field.kind == "amount":
        plain = f"{cell} <> '' AND translate({cell}, '0123456789.-', '') = ''"
        sign = f" AND {name} > 0" if field.positive else ""
        return f"CASE WHEN {plain} THEN {cell}::numeric END", f"{required} AND scale({name}) <= 2{sign}"
    # The whitespace str.strip() removes in practice: ASCII's and the no-break space.
    trimmed = f"NULLIF(btrim({cell}, E' \\t\\n\\r\\f\\v\\u00a0'), '')"
    if field.kind == "currency":
        return f"upper({trimmed})", required
    if field.kind == "text":
        return trimmed, f"{required} AND ({name} IS NULL OR length({name}) <= {field.max_length})"
    raise _NotClean(f"no fast path for {field.kind} values")
