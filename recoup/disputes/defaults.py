"""The reason codes a new installation starts with (migration 0003 installs the same list)."""

from __future__ import annotations

from recoup.disputes.models import DisputeReason

# (code, name, SLA in days): the list; a team edits them, or adds its own, on the reasons page.
REASONS = (
    ("pricing", "Pricing", 10),
    ("quantity", "Quantity", 10),
    ("damaged_goods", "Damaged goods", 14),
    ("not_received", "Not received", 7),
    ("duplicate_billing", "Duplicate billing", 5),
    ("tax", "Tax", 10),
    ("other", "Other", 14),
)


def install_reasons() -> list[DisputeReason]:
    """The default reasons, created where missing (a reason already there is left as it is)."""
    return [
        DisputeReason.objects.get_or_create(
            code=code, defaults={"name": name, "sla_days": days, "position": position}
        )[0]
        for position, (code, name, days) in enumerate(REASONS)
    ]
