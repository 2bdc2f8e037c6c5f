"""The dashboard's rollups: hour counts by (status, reason) alone, folded from the same changes as
the hour counts (delivery/services/counts.py), and latency histograms per day, channel and template
(delivery/services/latency.py, filled by a periodic job; its first run per account fills the
retention window). The status hours start as the hour counts summed over their other dimensions;
folding waits meanwhile, so no change is folded into one and not the other.

Deploy: stop beat and the workers of the previous release before migrating; a fold by the previous
code after this migration would add to the hour counts only."""

import django.db.models.deletion
from django.db import migrations, models

BACKFILL = """
INSERT INTO delivery_messagecountstatushour (account_id, hour_start_at, status, reason, count)
SELECT account_id, hour_start_at, status, reason, sum(count) FROM delivery_messagecounthour
GROUP BY account_id, hour_start_at, status, reason HAVING sum(count) <> 0
"""


def backfill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # Folding writes the hour counts: it waits until this commits. Message writes carry on.
        schema_editor.execute("LOCK TABLE delivery_messagecounthour IN SHARE ROW EXCLUSIVE MODE")
    schema_editor.execute(BACKFILL)


class Migration(migrations.Migration):

    dependencies = [
        ('delivery', '0011_message_counts'),
        ('smsconsole', '0004_export_job'),
    ]

    operations = [
        migrations.CreateModel(
            name='MessageCountStatusHour',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('hour_start_at', models.DateTimeField()),
                ('status', models.CharField(choices=[('requesting', 'Requesting'), ('awaiting_receipt', 'Awaiting receipt'), ('delivered', 'Delivered'), ('processing_failed', 'Processing failed'), ('send_failed', 'Send failed')], max_length=20)),
                ('reason', models.CharField(blank=True, choices=[('global_intercept', 'Global intercept list'), ('local_intercept', 'Local intercept list'), ('unsubscribed', 'Unsubscribed'), ('keyword_filtered', 'Keyword filtering'), ('variable_error', 'Variable substitution error'), ('content_noncompliant', 'Content non-compliant'), ('frequency_exceeded', 'Frequency exceeded'), ('other', 'Other'), ('invalid_number', 'Invalid number'), ('suspended', 'Suspended'), ('blacklisted', 'Blacklisted'), ('busy', 'Busy'), ('no_answer', 'No answer'), ('content_intercepted', 'Intercepted (template content)'), ('device_fault', 'Device fault'), ('out_of_service_area', 'Out of service area'), ('powered_off', 'Powered off')], max_length=24)),
                ('count', models.BigIntegerField()),
                ('account', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='smsconsole.account')),
            ],
            options={
                'indexes': [models.Index(fields=['hour_start_at'], name='msgcount_status_hour_time'), models.Index(condition=models.Q(('count', 0)), fields=['id'], name='msgcount_status_hour_zero')],
                'constraints': [models.UniqueConstraint(fields=('account', 'hour_start_at', 'status', 'reason'), name='msgcount_status_hour_key')],
            },
        ),
        migrations.CreateModel(
            name='MessageLatencyDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day_start_at', models.DateTimeField()),
                ('stage', models.CharField(choices=[('hand_over', 'Request to hand-over'), ('receipt', 'Hand-over to receipt')], max_length=16)),
                ('bucket', models.PositiveSmallIntegerField()),
                ('count', models.BigIntegerField()),
                ('account', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='smsconsole.account')),
                ('channel', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='delivery.channel')),
                ('template', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='delivery.template')),
            ],
            options={
                'indexes': [models.Index(fields=['day_start_at'], name='latency_day_time')],
                'constraints': [models.UniqueConstraint(fields=('account', 'day_start_at', 'channel', 'template', 'stage', 'bucket'), name='latency_day_key')],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
