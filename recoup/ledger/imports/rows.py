"""Turn source rows into staged tuples, with every check that needs only the row itself.

Checks that need other rows or the database (duplicates, unknown customers and invoices, decimals of a currency
taken from the customer, amounts below what is applied) run later as set-based queries on the staging table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from recoup.ledger.imports.fields import BadValue, check_amount
from recoup.ledger.imports.mapping import CompiledMapping
from recoup.ledger.imports.readers import Rows


@dataclass(frozen=True, order=True)
class RowError:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


Staged = tuple[Any, ...]  # (line, *field values in schema order)


class RowParser:
    """Streams staged tuples out of `rows`; bad rows are left out and recorded in `errors`."""

    def __init__(self, kind: str, compiled: CompiledMapping, *, distinct: bool = False) -> None:
        self.kind = kind
        self.compiled = compiled
        self.distinct = distinct
        self.errors: list[RowError] = []
        self.read = 0
        self.skipped = 0
        self.repeated = 0  # identical repeats dropped in distinct mode
        self.names = [source.field.name for source in compiled.sources]
        self._check = self._kind_check()

    def parse(self, rows: Rows, progress: Callable[[int], None] | None = None) -> Iterator[Staged]:
        specs = [
            (s.index, s.constant, s.template, s.convert, s.label, s.field.required) for s in self.compiled.sources
        ]
        width, skip, errors, check = self.compiled.width, self.compiled.skip_indexes, self.errors, self._check
        seen: dict[str, tuple[int, tuple[Any, ...]]] = {}
        read = 0
        for line, cells in rows:
            read += 1
            if progress is not None and not read % 10_000:
                progress(10_000)
            if len(cells) < width:
                cells.extend([""] * (width - len(cells)))
            if skip and any(not str(cells[i]).strip() for i in skip):
                self.skipped += 1
                continue
            out: list[Any] = [line]
            ok = True
            for index, constant, template, convert, label, required in specs:
                if index >= 0:
                    raw = cells[index]
                elif template is not None:
                    raw = template(cells)
                else:
                    out.append(constant)
                    continue
                try:
                    value = convert(raw)  # type: ignore[misc]
                except BadValue as exc:
                    errors.append(RowError(line, label, str(exc)))
                    ok = False
                    continue
                if value is None and required:
                    errors.append(RowError(line, label, "required value is empty"))
                    ok = False
                out.append(value)
            if not ok:
                continue
            if check is not None:
                problem = check(out)
                if problem is not None:
                    errors.append(RowError(line, *problem))
                    continue
            if self.distinct:
                key, values = out[1], tuple(out[2:])
                if key in seen:
                    first_line, first_values = seen[key]
                    if first_values == values:
                        self.repeated += 1
                        continue
                    errors.append(RowError(line, self._label("external_id"),
                                           f'"{key}" repeats line {first_line} with different values '
                                           f"({self._differences(first_values, values)})"))
                    continue
                seen[key] = (line, values)
            yield tuple(out)
        if progress is not None:
            progress(read % 10_000)
        self.read = read

    def _label(self, name: str) -> str:
        return self.compiled.source(name).label

    def _differences(self, first: tuple[Any, ...], second: tuple[Any, ...]) -> str:
        names = self.names[1:]
        return ", ".join(self._label(n) for n, a, b in zip(names, first, second, strict=True) if a != b)

    def _kind_check(self) -> Callable[[list[Any]], tuple[str, str] | None] | None:
        """The checks across one row's fields; positions are 1 + the schema position (0 is the line)."""
        pos = {name: i + 1 for i, name in enumerate(self.names)}
        if self.kind == "customers":
            limit, currency = pos["credit_limit"], pos["currency"]
            limit_label = self._label("credit_limit")

            def customer(out: list[Any]) -> tuple[str, str] | None:
                if out[limit] is not None:
                    try:
                        check_amount(out[limit], out[currency], positive=False)
                    except BadValue as exc:
                        return limit_label, str(exc)
                return None
            return customer

        amount, currency = pos["amount"], pos["currency"]
        amount_label = self._label("amount")
        if self.kind == "invoices":
            issue, due = pos["issue_date"], pos["due_date"]
            due_label = self._label("due_date")

            def invoice(out: list[Any]) -> tuple[str, str] | None:
                if out[due] < out[issue]:
                    return due_label, f"due date {out[due]} is before issue date {out[issue]}"
                return _amount_problem(out[amount], out[currency], amount_label)
            return invoice

        def document(out: list[Any]) -> tuple[str, str] | None:
            return _amount_problem(out[amount], out[currency], amount_label)
        return document


def _amount_problem(value: Decimal, currency: str | None, label: str) -> tuple[str, str] | None:
    if value > 0 and currency is None:
        return None  # the fast path: the currency comes from the customer and is checked in the database
    try:
        check_amount(value, currency, positive=True)
    except BadValue as exc:
        return label, str(exc)
    return None


def as_text_row(staged: Staged) -> list[Any]:
    """Dates as ISO text and amounts as plain text, for drivers that want text (SQLite)."""
    return [v.isoformat() if isinstance(v, dt.date) else str(v) if isinstance(v, Decimal) else v for v in staged]
