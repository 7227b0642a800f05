"""Disputes become a workflow: reason codes with SLAs, owners, outcomes, history, comments and documents.

Existing disputes keep their data: a free-text reason maps to the reason of that code (else "other", with
the old text kept in the note), the SLA runs from the opening date, and the first history row records the
opening. An outcome outside the new list is kept in the resolution note and recorded as "rejected".
"""

from django.db import migrations


# A frozen copy of recoup.disputes.defaults.REASONS as of this migration.
REASONS = (
    ("pricing", "Pricing", 10),
    ("quantity", "Quantity", 10),
    ("damaged_goods", "Damaged goods", 14),
    ("not_received", "Not received", 7),
    ("duplicate_billing", "Duplicate billing", 5),
    ("tax", "Tax", 10),
    ("other", "Other", 14),
)
OUTCOMES = {"credit_note", "rejected", "customer_paid", "written_off"}


def forwards(apps, schema_editor):
    import datetime as dt

    Reason = apps.get_model("disputes", "DisputeReason")
    Dispute = apps.get_model("disputes", "Dispute")
    Change = apps.get_model("disputes", "DisputeStatusChange")
    for position, (code, name, days) in enumerate(REASONS):
        Reason.objects.get_or_create(code=code, defaults={"name": name, "sla_days": days, "position": position})
    reasons = {r.code: r for r in Reason.objects.all()}
    for dispute in Dispute.objects.all():
        text = (dispute.reason_text or "").strip()
        reason = reasons.get(text.lower().replace(" ", "_")) or reasons["other"]
        if text and reason.code == "other" and text.lower() != "other":
            dispute.note = f"Reason: {text}\n\n{dispute.note}".strip()
        dispute.reason = reason
        dispute.sla_due_on = dispute.opened_on + dt.timedelta(days=reason.sla_days)
        if dispute.status == "resolved":
            if dispute.outcome not in OUTCOMES:
                dispute.resolution_note = f"Outcome: {dispute.outcome or 'not recorded'}"
                dispute.outcome = "rejected"
            dispute.resolved_on = dispute.resolved_on or dispute.opened_on
        else:
            dispute.outcome, dispute.resolved_on = "", None
        dispute.save()
        Change.objects.create(
            dispute=dispute, from_status="", to_status="open", changed_at=dispute.created_at,
            changed_by=dispute.created_by,
        )
        if dispute.status == "resolved":
            Change.objects.create(
                dispute=dispute, from_status="open", to_status="resolved", changed_at=dispute.updated_at,
            )


class Migration(migrations.Migration):
    dependencies = [("disputes", "0002_workflow")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
