"""recoup import {customers,invoices,credit-notes,payments} FILE [--mapping MAPPING.toml] [--dry-run]"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recoup.ledger.imports import KINDS, ImportFailed, import_file


class Command(BaseCommand):
    help = (
        "Import customers, invoices, credit notes or payments from a CSV or XLSX file, all or nothing. "
        "Columns are described in docs/import.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("file", help="a .csv or .xlsx file; line 1 is the header")
        parser.add_argument("--mapping", help="a TOML file mapping the file's columns to fields")
        parser.add_argument("--dry-run", action="store_true", help="check everything, write nothing")

    def handle(
        self, *args: Any, kind: str, file: str, mapping: str | None, dry_run: bool, **options: Any
    ) -> None:
        bar = None
        if sys.stderr.isatty() and options.get("verbosity", 1) > 0:
            from tqdm import tqdm

            bar = tqdm(desc=kind, unit=" rows", unit_scale=True, file=sys.stderr, mininterval=0.5)
        try:
            totals = import_file(
                kind=kind,
                path=file,
                mapping_path=mapping,
                dry_run=dry_run,
                progress=bar.update if bar is not None else None,  # type: ignore[arg-type]
            )
        except ImportFailed as failure:
            if bar is not None:
                bar.close()
            for error in failure.errors:
                self.stderr.write(str(error))
            raise CommandError(failure.message) from None
        if bar is not None:
            bar.close()
        self.stdout.write(totals.summary())
