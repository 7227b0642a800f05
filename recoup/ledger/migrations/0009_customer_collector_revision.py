"""A change of a customer's collector counts as an undated change of the ledger (LedgerRevision), as a change
of its name or external id does: aging rows show the customer's collector, and a report kept for reuse
(recoup.ledger.kept.reusing) must not outlive a reassignment."""

import importlib

from django.db import migrations

revision = importlib.import_module("recoup.ledger.migrations.0008_ledger_revision_report_indexes")

TABLE = "ledger_customer"
TRIGGER = f"{TABLE}_revise_update"
BEFORE = ("name", "external_id")
AFTER = ("name", "external_id", "collector_id")


def _statements(vendor, columns):
    if vendor == "postgresql":
        changed = revision._changed(columns, lambda a, b: f"{a} IS DISTINCT FROM {b}")
        return [
            f"DROP TRIGGER IF EXISTS {TRIGGER} ON {TABLE}",
            f"CREATE TRIGGER {TRIGGER} AFTER UPDATE OF {', '.join(columns)} ON {TABLE}"
            f" FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION ledger_revise_row()",
        ]
    changed = revision._changed(columns, lambda a, b: f"{a} IS NOT {b}")
    return [
        f"DROP TRIGGER IF EXISTS {TRIGGER}",
        f"CREATE TRIGGER {TRIGGER} AFTER UPDATE OF {', '.join(columns)} ON {TABLE}"
        f" WHEN {changed} BEGIN {revision._sqlite_bump('NULL')} END",
    ]


def _replace(columns):
    def run(apps, schema_editor):
        for statement in _statements(schema_editor.connection.vendor, columns):
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0008_ledger_revision_report_indexes"),
    ]

    operations = [
        migrations.RunPython(_replace(AFTER), _replace(BEFORE)),
    ]
