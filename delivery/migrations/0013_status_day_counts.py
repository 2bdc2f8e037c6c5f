"""Day counts by (status, reason) alone, for counts without a filter dimension: they start as the
day counts summed over their other dimensions, with folding held off meanwhile (as in 0012).
Deploy: stop beat and the workers of the previous release before migrating."""


import django.db.models.deletion
from django.db import migrations, models


BACKFILL = """
INSERT INTO delivery_messagecountstatusday (account_id, day_start_at, status, reason, count)
SELECT account_id, day_start_at, status, reason, sum(count) FROM delivery_messagecountday
GROUP BY account_id, day_start_at, status, reason HAVING sum(count) <> 0
"""


def backfill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("LOCK TABLE delivery_messagecountday IN SHARE ROW EXCLUSIVE MODE")
    schema_editor.execute(BACKFILL)


class Migration(migrations.Migration):

    dependencies = [
        ('delivery', '0012_dashboard_rollups'),
        ('smsconsole', '0004_export_job'),
    ]

    operations = [
        migrations.CreateModel(
            name='MessageCountStatusDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day_start_at', models.DateTimeField()),
                ('status', models.CharField(choices=[('requesting', 'Requesting'), ('awaiting_receipt', 'Awaiting receipt'), ('delivered', 'Delivered'), ('processing_failed', 'Processing failed'), ('send_failed', 'Send failed')], max_length=20)),
                ('reason', models.CharField(blank=True, choices=[('global_intercept', 'Global intercept list'), ('local_intercept', 'Local intercept list'), ('unsubscribed', 'Unsubscribed'), ('keyword_filtered', 'Keyword filtering'), ('variable_error', 'Variable substitution error'), ('content_noncompliant', 'Content non-compliant'), ('frequency_exceeded', 'Frequency exceeded'), ('other', 'Other'), ('invalid_number', 'Invalid number'), ('suspended', 'Suspended'), ('blacklisted', 'Blacklisted'), ('busy', 'Busy'), ('no_answer', 'No answer'), ('content_intercepted', 'Intercepted (template content)'), ('device_fault', 'Device fault'), ('out_of_service_area', 'Out of service area'), ('powered_off', 'Powered off')], max_length=24)),
                ('count', models.BigIntegerField()),
                ('account', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='smsconsole.account')),
            ],
            options={
                'indexes': [models.Index(condition=models.Q(('count', 0)), fields=['id'], name='msgcount_status_day_zero')],
                'constraints': [models.UniqueConstraint(fields=('account', 'day_start_at', 'status', 'reason'), name='msgcount_status_day_key')],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
