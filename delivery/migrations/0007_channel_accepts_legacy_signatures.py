from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("delivery", "0006_status_index_covers_filters")]

    operations = [
        # Channels that exist already sign the legacy way: they keep being accepted until staff
        # switch it off. New channels only accept the timestamped form.
        migrations.AddField(
            model_name="channel",
            name="accepts_legacy_signatures",
            field=models.BooleanField(
                default=True,
                help_text=(
                    "Also accept webhooks signed without X-Signature-Timestamp (HMAC of the body alone). "
                    "Such requests can be replayed; switch this off once the carrier sends the timestamp."
                ),
                verbose_name="accepts legacy signatures",
            ),
        ),
        migrations.AlterField(
            model_name="channel",
            name="accepts_legacy_signatures",
            field=models.BooleanField(
                default=False,
                help_text=(
                    "Also accept webhooks signed without X-Signature-Timestamp (HMAC of the body alone). "
                    "Such requests can be replayed; switch this off once the carrier sends the timestamp."
                ),
                verbose_name="accepts legacy signatures",
            ),
        ),
    ]
