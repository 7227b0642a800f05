"""With the data moved (0003), the old column goes, the new ones become required, and the comments and
documents arrive."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import recoup.disputes.models


class Migration(migrations.Migration):
    dependencies = [
        ("disputes", "0003_workflow_data"),
        ("ledger", "0006_dunning_policy"),
        ("users", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveField(model_name="dispute", name="reason_text"),
        migrations.AlterField(
            model_name="dispute",
            name="reason",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="disputes", to="disputes.disputereason"
            ),
        ),
        migrations.AlterField(
            model_name="dispute",
            name="sla_due_on",
            field=models.DateField(help_text="The last day to resolve it within the reason's SLA."),
        ),
        migrations.AlterModelOptions(name="dispute", options={"ordering": ["opened_on", "id"]}),
        migrations.AddIndex(
            model_name="dispute",
            index=models.Index(fields=["status", "opened_on"], name="dispute_status_opened"),
        ),
        migrations.AddIndex(
            model_name="dispute", index=models.Index(fields=["team", "status"], name="dispute_team_status")
        ),
        migrations.AddIndex(
            model_name="dispute", index=models.Index(fields=["owner", "status"], name="dispute_owner_status")
        ),
        migrations.AddConstraint(
            model_name="dispute",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("resolved_on__isnull", False), ("status", "resolved"), models.Q(("outcome", ""), _negated=True)),
                    models.Q(models.Q(("status", "resolved"), _negated=True), ("outcome", ""), ("resolved_on__isnull", True)),
                    _connector="OR",
                ),
                name="dispute_resolved_has_outcome",
            ),
        ),
        migrations.CreateModel(
            name="DisputeComment",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("body", models.TextField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "author",
                    models.ForeignKey(
                        blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "dispute",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="comments", to="disputes.dispute"
                    ),
                ),
            ],
            options={"ordering": ["created_at", "id"]},
        ),
        migrations.CreateModel(
            name="DisputeDocument",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("file", models.FileField(max_length=255, upload_to=recoup.disputes.models.document_path)),
                ("token", models.CharField(editable=False, max_length=32)),
                ("name", models.CharField(help_text="The uploaded file's name, made safe.", max_length=150)),
                ("content_type", models.CharField(max_length=100)),
                ("size", models.PositiveBigIntegerField()),
                ("sha256", models.CharField(max_length=64)),
                ("uploaded_at", models.DateTimeField(auto_now_add=True)),
                (
                    "dispute",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="documents", to="disputes.dispute"
                    ),
                ),
                (
                    "uploaded_by",
                    models.ForeignKey(
                        blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"ordering": ["uploaded_at", "id"]},
        ),
    ]
