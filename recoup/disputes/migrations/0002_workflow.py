"""Disputes become a workflow, in three steps: the new columns and tables (this one), the existing disputes'
data moved into them (0003), and the old column dropped and the new ones required (0004). Each is a
migration of its own: PostgreSQL builds this one's indexes at its end, and cannot alter a table in the
transaction that has just written rows with deferred foreign-key checks against it."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("disputes", "0001_initial"),
        ("ledger", "0006_dunning_policy"),
        ("users", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="DisputeReason",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("code", models.SlugField(max_length=32, unique=True)),
                ("name", models.CharField(max_length=100, unique=True)),
                ("sla_days", models.PositiveIntegerField(default=10, help_text="Calendar days from opening to resolution.")),
                ("is_active", models.BooleanField(default=True, help_text="Inactive reasons stay on old disputes only.")),
                ("position", models.PositiveIntegerField(default=0)),
                (
                    "default_team",
                    models.ForeignKey(
                        blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                        related_name="dispute_reasons", to="users.team",
                    ),
                ),
            ],
            options={"ordering": ["position", "name"]},
        ),
        migrations.RenameField(model_name="dispute", old_name="reason", new_name="reason_text"),
        migrations.AddField(
            model_name="dispute",
            name="reason",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.PROTECT, related_name="disputes",
                to="disputes.disputereason",
            ),
        ),
        migrations.AddField(
            model_name="dispute",
            name="sla_due_on",
            field=models.DateField(null=True, help_text="The last day to resolve it within the reason's SLA."),
        ),
        migrations.AddField(
            model_name="dispute",
            name="sla_breached_on",
            field=models.DateField(
                blank=True, null=True, help_text="When the SLA check found it unresolved past its SLA."
            ),
        ),
        migrations.AddField(model_name="dispute", name="resolution_note", field=models.TextField(blank=True)),
        migrations.AddField(
            model_name="dispute",
            name="owner",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                related_name="owned_disputes", to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="dispute",
            name="team",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                related_name="disputes", to="users.team",
            ),
        ),
        migrations.AddField(
            model_name="dispute",
            name="resolved_by",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="dispute",
            name="credit_note",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="disputes",
                to="ledger.creditnote",
            ),
        ),
        migrations.AddField(
            model_name="dispute",
            name="write_off",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="disputes",
                to="ledger.allocation",
            ),
        ),
        migrations.AlterField(
            model_name="dispute",
            name="outcome",
            field=models.CharField(
                blank=True, max_length=16,
                choices=[
                    ("credit_note", "Credit note"), ("rejected", "Rejected"),
                    ("customer_paid", "Customer paid"), ("written_off", "Written off"),
                ],
            ),
        ),
        migrations.CreateModel(
            name="DisputeStatusChange",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "from_status",
                    models.CharField(
                        blank=True, max_length=16,
                        choices=[("open", "Open"), ("in_review", "In review"), ("resolved", "Resolved")],
                    ),
                ),
                (
                    "to_status",
                    models.CharField(
                        max_length=16,
                        choices=[("open", "Open"), ("in_review", "In review"), ("resolved", "Resolved")],
                    ),
                ),
                ("changed_at", models.DateTimeField()),
                ("note", models.TextField(blank=True)),
                (
                    "changed_by",
                    models.ForeignKey(
                        blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "dispute",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="status_changes",
                        to="disputes.dispute",
                    ),
                ),
            ],
            options={"ordering": ["changed_at", "id"]},
        ),
    ]
