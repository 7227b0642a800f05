"""Mapping files: which source column (or constant, or template) feeds each field. See docs/import.md.

    kind = "payments"                    # optional; must match the command's kind when given
    skip_if_empty = ["SettledDate"]      # rows where any of these source columns is empty are skipped
    distinct = false                     # true: identical repeats count once (conflicting ones are errors)
    delimiter = ","                      # CSV only
    encoding = "utf-8-sig"               # CSV only
    sheet = "Sheet1"                     # XLSX only; default the first sheet

    [columns]    # field = "source column"
    [formats]    # date field = strptime format, e.g. "%m/%d/%Y"
    [constants]  # field = value (a string, number or boolean)
    [templates]  # field = format string over source columns, e.g. "PAY-{invoiceNumber}"

A field named nowhere is read from a source column of the same name when there is one: with no mapping at all,
the built-in columns apply.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recoup.ledger.imports.fields import SCHEMAS, BadValue, Converter, Field, converter_for

_TOP_LEVEL = {
    "kind",
    "skip_if_empty",
    "distinct",
    "delimiter",
    "encoding",
    "sheet",
    "columns",
    "formats",
    "constants",
    "templates",
}


class MappingError(ValueError):
    """A mapping file that cannot be used; nothing was read from the data file."""


@dataclass(frozen=True)
class Mapping:
    columns: dict[str, str] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)
    skip_if_empty: tuple[str, ...] = ()
    distinct: bool = False
    delimiter: str = ","
    encoding: str = "utf-8-sig"
    sheet: str | None = None
    kind: str | None = None
    source: str = "built-in columns"


def load_mapping(path: str | Path, kind: str) -> Mapping:
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise MappingError(f"{path}: cannot read the mapping file ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{path}: not valid TOML ({exc})") from exc
    where = str(path)
    unknown = set(data) - _TOP_LEVEL
    if unknown:
        raise MappingError(f"{where}: unknown keys {sorted(unknown)}; expected some of {sorted(_TOP_LEVEL)}")
    if data.get("kind") not in (None, kind):
        raise MappingError(f"{where} is a mapping for {data['kind']}, not {kind}")
    fields = {f.name: f for f in SCHEMAS[kind]}
    sections: dict[str, dict[str, Any]] = {}
    for section in ("columns", "formats", "constants", "templates"):
        table = data.get(section, {})
        if not isinstance(table, dict):
            raise MappingError(f"{where}: [{section}] must be a table")
        for name, value in table.items():
            if name not in fields:
                raise MappingError(
                    f"{where}: [{section}] names {name!r}, which is not a {kind} field; "
                    f"fields are {', '.join(fields)}"
                )
            if section != "constants" and not isinstance(value, str):
                raise MappingError(f"{where}: [{section}] {name} must be a string")
        sections[section] = dict(table)
    for name in sections["formats"]:
        if fields[name].kind != "date":
            raise MappingError(f"{where}: [formats] {name} is not a date field")
    sources = [set(sections[s]) for s in ("columns", "constants", "templates")]
    twice = (sources[0] & sources[1]) | (sources[0] & sources[2]) | (sources[1] & sources[2])
    if twice:
        raise MappingError(
            f"{where}: {sorted(twice)} given more than once in [columns], [constants], [templates]"
        )
    skip = data.get("skip_if_empty", [])
    if not isinstance(skip, list) or not all(isinstance(c, str) for c in skip):
        raise MappingError(f"{where}: skip_if_empty must be a list of source column names")
    options = {key: data[key] for key in ("delimiter", "encoding", "sheet") if key in data}
    for key, value in options.items():
        if not isinstance(value, str) or (key == "delimiter" and len(value) != 1):
            raise MappingError(
                f"{where}: {key} must be a string" + (" of one character" if key == "delimiter" else "")
            )
    if not isinstance(data.get("distinct", False), bool):
        raise MappingError(f"{where}: distinct must be true or false")
    return Mapping(
        columns=sections["columns"],
        formats=sections["formats"],
        constants=sections["constants"],
        templates=sections["templates"],
        skip_if_empty=tuple(skip),
        distinct=data.get("distinct", False),
        kind=data.get("kind"),
        source=where,
        **options,
    )


# Compiling a mapping against a file's header ----------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """Where one field's value comes from in each row."""

    field: Field
    label: str  # the column to name in an error
    index: int = -1  # source column position, or -1
    constant: Any = None
    template: Callable[[Sequence[Any]], str] | None = None
    convert: Converter | None = None

    @property
    def present(self) -> bool:
        return self.index >= 0 or self.template is not None or self.constant is not None


@dataclass(frozen=True)
class CompiledMapping:
    sources: tuple[Source, ...]  # one per schema field, in schema order
    skip_indexes: tuple[int, ...]
    width: int  # the header's width: shorter rows are padded to it

    def source(self, name: str) -> Source:
        return next(s for s in self.sources if s.field.name == name)


@dataclass
class HeaderProblem:
    column: str
    message: str


def compile_mapping(
    mapping: Mapping, kind: str, header: Sequence[str]
) -> CompiledMapping | list[HeaderProblem]:
    """Resolve every field to a column position, constant or template; missing columns are returned."""
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        positions.setdefault(str(name).strip(), index)
    problems: list[HeaderProblem] = []
    sources: list[Source] = []
    for fld in SCHEMAS[kind]:
        convert = converter_for(fld, mapping.formats.get(fld.name))
        if fld.name in mapping.constants:
            sources.append(_constant_source(fld, mapping.constants[fld.name], convert, problems))
        elif fld.name in mapping.templates:
            sources.append(_template_source(fld, mapping.templates[fld.name], positions, convert, problems))
        else:
            column = mapping.columns.get(fld.name, fld.name)
            if column in positions:
                sources.append(Source(fld, column, index=positions[column], convert=convert))
            elif fld.name in mapping.columns or fld.required:
                problems.append(
                    HeaderProblem(
                        column,
                        f"required column is missing (for {fld.name})"
                        if fld.required
                        else f"mapped column is missing (for {fld.name})",
                    )
                )
                sources.append(Source(fld, column))
            else:
                sources.append(Source(fld, column))
    skip_indexes = []
    for column in mapping.skip_if_empty:
        if column in positions:
            skip_indexes.append(positions[column])
        else:
            problems.append(HeaderProblem(column, "column named in skip_if_empty is missing"))
    if problems:
        return problems
    return CompiledMapping(tuple(sources), tuple(skip_indexes), len(header))


def _constant_source(fld: Field, value: Any, convert: Converter, problems: list[HeaderProblem]) -> Source:
    label = f"{fld.name} (constant)"
    try:
        converted = convert(str(value).lower() if isinstance(value, bool) else str(value))  # true → "true"
    except BadValue as exc:
        problems.append(HeaderProblem(label, str(exc)))
        converted = None
    if converted is None:
        problems.append(HeaderProblem(label, "the constant is empty"))
    return Source(fld, label, constant=converted)


def _template_source(
    fld: Field, template: str, positions: dict[str, int], convert: Converter, problems: list[HeaderProblem]
) -> Source:
    label = f"{fld.name} (template {template!r})"
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        problems.append(HeaderProblem(label, f"not a valid template ({exc})"))
        return Source(fld, label)
    if any(not name for name in names):
        problems.append(HeaderProblem(label, "a template names its columns, as in {invoiceNumber}"))
        return Source(fld, label)
    missing = [name for name in names if name not in positions]
    for name in missing:
        problems.append(HeaderProblem(name, f"column named in the template for {fld.name} is missing"))
    if missing:
        return Source(fld, label)
    used = [(name, positions[name]) for name in dict.fromkeys(names)]

    def render(cells: Sequence[Any]) -> str:
        values = {name: _template_value(cells[index]) for name, index in used}
        if any(value == "" for value in values.values()):
            return ""  # an empty input makes an empty field, which a required field reports
        return template.format_map(values)

    return Source(fld, label, template=render, convert=convert)


def _template_value(cell: Any) -> Any:
    # Format specs such as "{invoiceNumber:0>10}" pad text and spreadsheet numbers alike.
    return cell.strip() if isinstance(cell, str) else cell
