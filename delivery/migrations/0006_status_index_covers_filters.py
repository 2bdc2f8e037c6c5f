from django.db import migrations, models

# Index-only scans (the per-status counts) need the visibility map to be current. With the default
# scale factors autovacuum waits for a fifth of a large message table to change before it visits.
AUTOVACUUM = (
    "autovacuum_vacuum_scale_factor = 0.02, "
    "autovacuum_vacuum_insert_scale_factor = 0.02, "
    "autovacuum_analyze_scale_factor = 0.02"
)


def tune_autovacuum(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE delivery_message SET ({AUTOVACUUM})")


def reset_autovacuum(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        names = ", ".join(setting.split(" = ")[0] for setting in AUTOVACUUM.split(", "))
        schema_editor.execute(f"ALTER TABLE delivery_message RESET ({names})")


class Migration(migrations.Migration):
    dependencies = [
        ("delivery", "0005_default_smpp_mappings"),
        ("intercepts", "0002_default_rules"),
        ("smsconsole", "0001_initial"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="message", name="msg_status_time"),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                fields=["account", "status", "reason", "-requested_at", "-id"],
                include=("template_type", "tag", "sms_user"),
                name="msg_status_time",
            ),
        ),
        migrations.RunPython(tune_autovacuum, reset_autovacuum),
    ]
