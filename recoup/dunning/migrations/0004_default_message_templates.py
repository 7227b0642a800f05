"""A few templates for emails collectors send by hand, so the "Send email" form has something to choose on a
fresh installation. Managers change them under Settings → Email templates; a template already there by the
same name and language is left alone."""

from django.db import migrations


def create(apps, schema_editor):
    from recoup.dunning.defaults import MESSAGE_TEMPLATES

    MessageTemplate = apps.get_model("dunning", "MessageTemplate")
    for name, tone, subject, body in MESSAGE_TEMPLATES:
        MessageTemplate.objects.get_or_create(
            name=name, language="en", defaults={"tone": tone, "subject": subject, "body": body}
        )


def remove(apps, schema_editor):
    from recoup.dunning.defaults import MESSAGE_TEMPLATES

    MessageTemplate = apps.get_model("dunning", "MessageTemplate")
    MessageTemplate.objects.filter(
        name__in=[name for name, *_ in MESSAGE_TEMPLATES], language="en", messages__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("dunning", "0003_manual_messages")]

    operations = [migrations.RunPython(create, remove)]
