"""Streamed readers for CSV and XLSX files: a header, then (file line, cells) one row at a time."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from recoup.ledger.imports.mapping import Mapping

XLSX_SUFFIXES = {".xlsx", ".xlsm"}

Rows = Iterator[tuple[int, list[Any]]]


class ReadError(ValueError):
    """The file cannot be read as a table."""


@contextmanager
def open_table(path: str | Path, mapping: Mapping) -> Iterator[tuple[list[str], Rows]]:
    """Yield the header and an iterator of (line, cells). Blank rows are passed over; line 1 is the header."""
    path = Path(path)
    if not path.is_file():
        raise ReadError(f"{path}: no such file")
    if path.suffix.lower() in XLSX_SUFFIXES:
        with _xlsx(path, mapping) as table:
            yield table
    else:
        with _csv(path, mapping) as table:
            yield table


@contextmanager
def _csv(path: Path, mapping: Mapping) -> Iterator[tuple[list[str], Rows]]:
    try:
        handle = path.open(newline="", encoding=mapping.encoding)
    except LookupError as exc:
        raise ReadError(f"unknown encoding {mapping.encoding!r}") from exc
    with handle:
        reader = csv.reader(handle, delimiter=mapping.delimiter)
        try:
            header = next(reader, None)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ReadError(f"{path}: cannot read the header ({exc})") from exc
        if not header:
            raise ReadError(f"{path}: the file is empty; line 1 must be a header")

        def rows() -> Rows:
            end = reader.line_num
            try:
                for cells in reader:
                    start, end = end + 1, reader.line_num
                    if cells and (len(cells) > 1 or cells[0]):
                        yield start, cells
            except (UnicodeDecodeError, csv.Error) as exc:
                raise ReadError(f"{path}, line {end + 1}: {exc}") from exc

        yield [name.strip() for name in header], rows()


@contextmanager
def _xlsx(path: Path, mapping: Mapping) -> Iterator[tuple[list[str], Rows]]:
    import openpyxl  # imported here: CSV imports never pay for it

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ReadError(f"{path}: not a readable XLSX workbook ({exc})") from exc
    try:
        if mapping.sheet is not None and mapping.sheet not in workbook.sheetnames:
            raise ReadError(
                f"{path}: no sheet named {mapping.sheet!r} (sheets: {', '.join(workbook.sheetnames)})"
            )
        sheet = workbook[mapping.sheet] if mapping.sheet else workbook.worksheets[0]
        values = sheet.iter_rows(values_only=True)
        first = next(values, None)
        if not first or all(cell is None for cell in first):
            raise ReadError(f"{path}: the sheet is empty; row 1 must be a header")
        header = [_cell(cell).strip() for cell in first]
        while header and not header[-1]:
            header.pop()

        def rows() -> Rows:
            for line, row in enumerate(values, start=2):
                cells = [_cell(cell) for cell in row]
                if any(cells):
                    yield line, cells

        yield header, rows()
    finally:
        workbook.close()


def _cell(value: Any) -> Any:
    """Spreadsheet cells as the CSV path sees them: text, except dates, which stay dates."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date() if value.time() == dt.time(0) else value
    if isinstance(value, dt.date | str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)
