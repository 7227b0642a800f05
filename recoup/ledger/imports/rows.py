"""Turn source rows into staged tuples, with every check that needs only the row itself.

Checks that need other rows or the database (duplicates, unknown customers and invoices, decimals of a
currency taken from the customer, amounts below what is applied) run later as set-based queries on the
staging table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter
from typing import Any

from recoup.ledger.imports.fields import BadValue, check_amount
from recoup.ledger.imports.mapping import CompiledMapping, Source
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
        sources = self.compiled.sources
        # The fast path converts a whole row in one comprehension; a row that raises, or lacks a required
        # value, is converted again field by field to name every problem in it.
        getters = [_getter(s) for s in sources]
        pairs = list(zip(getters, [s.convert or _same for s in sources], strict=True))
        required = [i + 1 for i, s in enumerate(sources) if s.field.required]
        required_values = itemgetter(*required) if len(required) > 1 else lambda out: (out[required[0]],)
        width, skip, check = self.compiled.width, self.compiled.skip_indexes, self._check
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
            try:
                out = [line, *[convert(get(cells)) for get, convert in pairs]]
            except BadValue:
                self._explain(line, cells, getters)
                continue
            if None in required_values(out):
                self._explain(line, cells, getters)
                continue
            if check is not None:
                problem = check(out)
                if problem is not None:
                    self.errors.append(RowError(line, *problem))
                    continue
            if self.distinct and self._repeats(out, seen):
                continue
            yield tuple(out)
        if progress is not None:
            progress(read % 10_000)
        self.read = read

    def _explain(self, line: int, cells: list[Any], getters: list[Callable[[list[Any]], Any]]) -> None:
        for source, get in zip(self.compiled.sources, getters, strict=True):
            try:
                value = (source.convert or _same)(get(cells))
            except BadValue as exc:
                self.errors.append(RowError(line, source.label, str(exc)))
                continue
            if value is None and source.field.required:
                self.errors.append(RowError(line, source.label, "required value is empty"))

    def _repeats(self, out: list[Any], seen: dict[str, tuple[int, tuple[Any, ...]]]) -> bool:
        """Under `distinct`: True for a row to leave out (an identical repeat, or a reported conflict)."""
        key, values = out[1], tuple(out[2:])
        if key not in seen:
            seen[key] = (out[0], values)
            return False
        first_line, first_values = seen[key]
        if first_values == values:
            self.repeated += 1
        else:
            self.errors.append(
                RowError(
                    out[0],
                    self._label("external_id"),
                    f'"{key}" repeats line {first_line} with different values '
                    f"({self._differences(first_values, values)})",
                )
            )
        return True

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


def _same(value: Any) -> Any:
    return value


def _getter(source: Source) -> Callable[[list[Any]], Any]:
    if source.index >= 0:
        return itemgetter(source.index)
    if source.template is not None:
        return source.template
    constant = source.constant
    return lambda cells: constant


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
    return [
        v.isoformat() if isinstance(v, dt.date) else str(v) if isinstance(v, Decimal) else v for v in staged
    ]
