"""Platform default frequency rules: 1 per minute, 5 per hour, 10 per day to one number."""

from django.db import migrations

DEFAULTS = [(60, 1), (3600, 5), (86400, 10)]


def create_defaults(apps, schema_editor):
    FrequencyRule = apps.get_model("delivery", "FrequencyRule")
    for window_seconds, max_messages in DEFAULTS:
        FrequencyRule.objects.get_or_create(
            account=None, window_seconds=window_seconds, defaults={"max_messages": max_messages}
        )


def remove_defaults(apps, schema_editor):
    apps.get_model("delivery", "FrequencyRule").objects.filter(
        account=None, window_seconds__in=[w for w, _ in DEFAULTS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("delivery", "0002_initial")]
    operations = [migrations.RunPython(create_defaults, remove_defaults)]
