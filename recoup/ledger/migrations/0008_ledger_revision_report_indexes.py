"""The ledger watermark (LedgerRevision, kept by triggers) and the indexes the reports read through.

- `ledger_ledgerrevision` and the triggers that count every change of the ledger's dated facts per month
  (see LedgerRevision): stored month-end figures are reused only while the months they cover are unchanged.
- `invoice_issue_date` and `payment_date`: credit sales and collections by day, as index-only scans.
- `allocation_invoice_date_amount` replaces `allocation_invoice_date`: aging as of a past date probes each
  candidate invoice's allocations without visiting the table.
"""

from django.db import migrations, models

# (table, date column, the columns whose change is a change of the ledger's facts)
DATED = (
    ("ledger_invoice", "issue_date", ("issue_date", "due_date", "amount", "currency", "customer_id")),
    ("ledger_allocation", "date", ("date", "amount", "invoice_id")),
    ("ledger_fxrate", "date", ("currency", "date", "rate")),
)
# Changes no date places: what aging shows of a customer.
UNDATED = ("ledger_customer", ("name", "external_id"))
REVISION = "ledger_ledgerrevision"
EVERY_MONTH = "0001-01-01"  # a TRUNCATE changes every month-end

POSTGRES_FUNCTIONS = f"""
CREATE FUNCTION ledger_revise(since date) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    first date := date_trunc('month', since)::date;  -- NULL: an undated change
BEGIN
    -- A row of the month that no other transaction holds, else a new one: writers never wait on each other.
    UPDATE {REVISION} SET changes = changes + 1
    WHERE id = (SELECT id FROM {REVISION} WHERE month IS NOT DISTINCT FROM first
                ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED);
    IF NOT FOUND THEN
        INSERT INTO {REVISION} (month, changes) VALUES (first, 1);
    END IF;
END $$;

-- Statement level: one count per INSERT or DELETE, on the month of its earliest date (TG_ARGV[0]).
CREATE FUNCTION ledger_revise_statement() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    since date;
BEGIN
    IF TG_OP = 'INSERT' THEN
        EXECUTE format('SELECT min(%I) FROM new_rows', TG_ARGV[0]) INTO since;
    ELSIF TG_OP = 'DELETE' THEN
        EXECUTE format('SELECT min(%I) FROM old_rows', TG_ARGV[0]) INTO since;
    ELSE
        since := DATE '{EVERY_MONTH}';
    END IF;
    IF since IS NOT NULL THEN
        PERFORM ledger_revise(since);
    END IF;
    RETURN NULL;
END $$;

-- Row level, for the rare UPDATE that changes a fact (the trigger's OF and WHEN: a refresh of the kept
-- balances never fires it): the earlier of the two dates.
CREATE FUNCTION ledger_revise_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_NARGS = 0 THEN
        PERFORM ledger_revise(NULL);
    ELSE
        PERFORM ledger_revise(least((to_jsonb(OLD) ->> TG_ARGV[0])::date, (to_jsonb(NEW) ->> TG_ARGV[0])::date));
    END IF;
    RETURN NULL;
END $$;
"""


def _changed(columns, distinct):
    return " OR ".join(distinct(f"OLD.{c}", f"NEW.{c}") for c in columns)


def _postgres(schema_editor):
    statements = [POSTGRES_FUNCTIONS]
    for table, date, columns in DATED:
        changed = _changed(columns, lambda a, b: f"{a} IS DISTINCT FROM {b}")
        statements += [
            f"CREATE TRIGGER {table}_revise_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows"
            f" FOR EACH STATEMENT EXECUTE FUNCTION ledger_revise_statement('{date}')",
            f"CREATE TRIGGER {table}_revise_delete AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows"
            f" FOR EACH STATEMENT EXECUTE FUNCTION ledger_revise_statement('{date}')",
            f"CREATE TRIGGER {table}_revise_truncate AFTER TRUNCATE ON {table}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION ledger_revise_statement('{date}')",
            f"CREATE TRIGGER {table}_revise_update AFTER UPDATE OF {', '.join(columns)} ON {table}"
            f" FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION ledger_revise_row('{date}')",
        ]
    table, columns = UNDATED
    changed = _changed(columns, lambda a, b: f"{a} IS DISTINCT FROM {b}")
    statements.append(
        f"CREATE TRIGGER {table}_revise_update AFTER UPDATE OF {', '.join(columns)} ON {table}"
        f" FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION ledger_revise_row()"
    )
    return statements


def _sqlite_bump(date_expr):
    month = f"date({date_expr}, 'start of month')"
    return (
        f"UPDATE {REVISION} SET changes = changes + 1"
        f" WHERE id = (SELECT id FROM {REVISION} WHERE month IS {month} ORDER BY id LIMIT 1);"
        f" INSERT INTO {REVISION} (month, changes) SELECT {month}, 1"
        f" WHERE NOT EXISTS (SELECT 1 FROM {REVISION} WHERE month IS {month});"
    )


def _sqlite(schema_editor):
    # SQLite has row triggers only, and one writer at a time: a plain counter per month.
    statements = []
    for table, date, columns in DATED:
        changed = _changed(columns, lambda a, b: f"{a} IS NOT {b}")
        statements += [
            f"CREATE TRIGGER {table}_revise_insert AFTER INSERT ON {table}"
            f" BEGIN {_sqlite_bump(f'NEW.{date}')} END",
            f"CREATE TRIGGER {table}_revise_delete AFTER DELETE ON {table}"
            f" BEGIN {_sqlite_bump(f'OLD.{date}')} END",
            f"CREATE TRIGGER {table}_revise_update AFTER UPDATE OF {', '.join(columns)} ON {table}"
            f" WHEN {changed} BEGIN {_sqlite_bump(f'min(OLD.{date}, NEW.{date})')} END",
        ]
    table, columns = UNDATED
    changed = _changed(columns, lambda a, b: f"{a} IS NOT {b}")
    statements.append(
        f"CREATE TRIGGER {table}_revise_update AFTER UPDATE OF {', '.join(columns)} ON {table}"
        f" WHEN {changed} BEGIN {_sqlite_bump('NULL')} END"
    )
    return statements


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": _postgres, "sqlite": _sqlite}[vendor](schema_editor)
    for statement in statements:
        schema_editor.execute(statement, params=None)  # no placeholders: format() takes %I


def drop_triggers(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    names = [(t, f"{t}_revise_{op}") for t, _, _ in DATED for op in ("insert", "delete", "truncate", "update")]
    names.append((UNDATED[0], f"{UNDATED[0]}_revise_update"))
    for table, name in names:
        if postgres:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        else:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
    if postgres:
        for function in ("ledger_revise_row()", "ledger_revise_statement()", "ledger_revise(date)"):
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {function}")


class Migration(migrations.Migration):

    dependencies = [
        ("ledger", "0007_customer_segment"),
    ]

    operations = [
        migrations.CreateModel(
            name="LedgerRevision",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "month",
                    models.DateField(help_text="The first day of the month; NULL: undated changes", null=True),
                ),
                ("changes", models.PositiveBigIntegerField(default=0)),
            ],
            options={
                "ordering": ["month", "id"],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
        migrations.RemoveIndex(
            model_name="allocation",
            name="allocation_invoice_date",
        ),
        migrations.AddIndex(
            model_name="allocation",
            index=models.Index(fields=["invoice", "date", "amount"], name="allocation_invoice_date_amount"),
        ),
        migrations.AddIndex(
            model_name="invoice",
            index=models.Index(fields=["issue_date", "currency", "amount"], name="invoice_issue_date"),
        ),
        migrations.AddIndex(
            model_name="payment",
            index=models.Index(fields=["date", "currency", "amount"], name="payment_date"),
        ),
    ]
