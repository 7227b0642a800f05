"""The default dunning policy (the dunning issue's "sensible default"): created once, on the first migrate."""

from django.db import migrations


def create_default_policy(apps, schema_editor):
    from recoup.dunning.defaults import DEFAULT_POLICY, default_templates, template_kind

    DunningPolicy = apps.get_model("dunning", "DunningPolicy")
    DunningLevel = apps.get_model("dunning", "DunningLevel")
    DunningTemplate = apps.get_model("dunning", "DunningTemplate")
    if DunningPolicy.objects.exists():
        return
    policy = DunningPolicy.objects.create(
        name=DEFAULT_POLICY["name"], description=DEFAULT_POLICY["description"], is_default=True
    )
    levels = DEFAULT_POLICY["levels"]
    final = max(n for n, level in enumerate(levels, start=1) if {"email", "letter"} & set(level["channels"]))
    for position, spec in enumerate(levels, start=1):
        actions = spec.get("actions", {})
        level = DunningLevel.objects.create(
            policy=policy,
            position=position,
            name=spec["name"],
            offset_days=spec["offset_days"],
            channels=spec["channels"],
            min_gap_days=spec.get("min_gap_days", 0),
            task_role=actions.get("task_for_role") or "",
            set_credit_hold=actions.get("credit_hold", False),
        )
        kind = template_kind(position, spec["offset_days"], final)
        for language, text in default_templates(kind).items():
            DunningTemplate.objects.create(level=level, language=language, **text)


class Migration(migrations.Migration):
    dependencies = [("dunning", "0001_initial")]

    operations = [migrations.RunPython(create_default_policy, migrations.RunPython.noop)]
