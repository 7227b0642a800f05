"""What an import did, counted."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Totals:
    kind: str
    rows: int = 0  # rows staged (read − skipped − identical repeats)
    read: int = 0
    skipped: int = 0  # skip_if_empty
    repeated: int = 0  # identical repeats under `distinct = true`
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    allocations: int = 0
    allocated_oldest_first: int = 0
    contacts_created: int = 0
    contacts_updated: int = 0
    loader: str = "rows"  # "copy" when PostgreSQL's COPY parsed the whole file (rawcopy.py)
    seconds: float = 0.0
    dry_run: bool = False

    def as_event_data(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if key not in {"seconds", "dry_run"}}

    def summary(self) -> str:
        parts = [f"{self.read:,} rows", f"{self.created:,} created", f"{self.updated:,} updated"]
        if self.unchanged:
            parts.append(f"{self.unchanged:,} unchanged")
        if self.skipped:
            parts.append(f"{self.skipped:,} skipped")
        if self.repeated:
            parts.append(f"{self.repeated:,} repeats")
        if self.allocations or self.kind in {"payments", "credit-notes"}:
            parts.append(f"{self.allocations + self.allocated_oldest_first:,} allocations")
        if self.contacts_created or self.contacts_updated:
            parts.append(f"{self.contacts_created + self.contacts_updated:,} contacts set")
        text = f"{self.kind}: {', '.join(parts)} in {self.seconds:.1f} s"
        return f"{text} (dry run: nothing was written)" if self.dry_run else text
