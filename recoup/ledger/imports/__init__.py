"""Bulk imports of customers, invoices, credit notes and payments from CSV and XLSX (docs/import.md)."""

from recoup.ledger.imports.fields import KINDS
from recoup.ledger.imports.rows import RowError
from recoup.ledger.imports.run import ImportFailed, import_file
from recoup.ledger.imports.totals import Totals

__all__ = ["KINDS", "ImportFailed", "RowError", "Totals", "import_file"]
