"""One import, start to end: read and check rows, stage them, check them against the ledger, write, record.

It is all-or-nothing: every bad row is collected (the rows' own checks while streaming, then the set-based
checks on the staging table) and, if there is any, the transaction rolls back and `ImportFailed` lists them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import connection, transaction

from recoup.core.events import record_event
from recoup.ledger.imports import customers, documents, invoices, rawcopy
from recoup.ledger.imports.fields import KINDS
from recoup.ledger.imports.mapping import Mapping, MappingError, compile_mapping, load_mapping
from recoup.ledger.imports.readers import ReadError, open_table
from recoup.ledger.imports.rows import RowError, RowParser
from recoup.ledger.imports.staging import Db
from recoup.ledger.imports.totals import Totals
from recoup.ledger.services import evaluate_promises


class ImportFailed(Exception):
    """Nothing was written. `errors` lists every bad row (or the one reason the file could not be read)."""

    def __init__(self, message: str, errors: list[RowError] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []


def import_file(
    *,
    kind: str,
    path: str | Path,
    mapping_path: str | Path | None = None,
    dry_run: bool = False,
    actor: Any = None,
    progress: Callable[[int], None] | None = None,
) -> Totals:
    """Import `path` as `kind`; raises ImportFailed (having written nothing) on any bad row."""
    if kind not in KINDS:
        raise ImportFailed(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    started = time.monotonic()
    try:
        mapping = load_mapping(mapping_path, kind) if mapping_path else Mapping()
        with open_table(path, mapping) as (header, rows):
            compiled = compile_mapping(mapping, kind, header)
            if isinstance(compiled, list):
                errors = [RowError(1, problem.column, problem.message) for problem in compiled]
                raise ImportFailed(f"{path}: the header lacks what {mapping.source} needs", errors)
            parser = RowParser(kind, compiled, distinct=mapping.distinct)
            labels = {source.field.name: source.label for source in compiled.sources}
            totals = Totals(kind=kind, dry_run=dry_run)
            with transaction.atomic(), connection.cursor() as cursor:
                db = Db(cursor)
                if db.postgres:
                    db.execute("SET LOCAL work_mem = '256MB'")
                columns = db.create_staging(kind)
                copied = None
                if rawcopy.applies(db, kind=kind, path=path, mapping=mapping, compiled=compiled):
                    copied = rawcopy.load(
                        db, kind=kind, path=path, mapping=mapping, compiled=compiled, progress=progress
                    )
                if copied is None:
                    totals.rows = db.load(columns, parser.parse(rows, progress))
                    totals.read, totals.skipped = parser.read, parser.skipped
                    totals.repeated = parser.repeated
                else:
                    totals.rows = totals.read = copied
                    totals.loader = "copy"
                errors = parser.errors + _validate(db, kind, labels)
                if not errors:
                    errors = _write(db, kind, labels, totals, actor)
                if errors:
                    errors = sorted(set(errors))
                    bad_rows = len({error.line for error in errors})
                    raise ImportFailed(
                        f"{path}: {len(errors):,} problem(s) in {bad_rows:,} row(s); nothing was imported",
                        errors,
                    )
                db.drop_staging()
                record_event(
                    actor=actor,
                    verb=f"import.{kind}",
                    target_type="ledger.import",
                    data={"file": Path(path).name, "mapping": mapping.source, **totals.as_event_data()},
                )
                if dry_run:
                    transaction.set_rollback(True)
                elif kind == "payments":
                    transaction.on_commit(evaluate_promises, robust=True)
    except (MappingError, ReadError) as exc:
        raise ImportFailed(str(exc)) from exc
    totals.seconds = time.monotonic() - started
    return totals


def _validate(db: Db, kind: str, labels: dict[str, str]) -> list[RowError]:
    if kind == "customers":
        return customers.validate(db, labels)
    if kind == "invoices":
        return invoices.validate(db, labels)
    return documents.validate(db, kind, labels)


def _write(db: Db, kind: str, labels: dict[str, str], totals: Totals, actor: Any) -> list[RowError]:
    if kind == "customers":
        customers.write(db, totals)
        return []
    if kind == "invoices":
        invoices.write(db, totals)
        return []
    return documents.write(db, kind, labels, totals, actor)
