"""Exact counts above the status list without counting millions of rows: per-account counts by
hour and by UTC day, kept current by triggers on delivery_message in the same transaction as every
change (see MessageCountFields). Existing messages are counted once here, with writes to
delivery_message held off meanwhile so that no change falls between the count and the triggers."""

import django.db.models.deletion
from django.db import migrations, models


DIMENSIONS = "account_id, status, reason, template_type, tag, sms_user_id"

# PostgreSQL: statement-level triggers read the changed rows as transition tables, so a batch of
# 1,000 receipts appends one row per combination it changed, not 1,000. An update that changes no
# counted column appends nothing (the +1 and -1 cancel out).
POSTGRESQL_CREATE = f"""
CREATE FUNCTION delivery_message_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO delivery_messagecountchange (hour_start_at, {DIMENSIONS}, count)
        SELECT date_trunc('hour', requested_at, 'UTC'), {DIMENSIONS}, count(*)
        FROM new_rows GROUP BY 1, 2, 3, 4, 5, 6, 7;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO delivery_messagecountchange (hour_start_at, {DIMENSIONS}, count)
        SELECT date_trunc('hour', requested_at, 'UTC'), {DIMENSIONS}, -count(*)
        FROM old_rows GROUP BY 1, 2, 3, 4, 5, 6, 7;
    ELSE
        INSERT INTO delivery_messagecountchange (hour_start_at, {DIMENSIONS}, count)
        SELECT date_trunc('hour', requested_at, 'UTC'), {DIMENSIONS}, sum(change)
        FROM (
            SELECT requested_at, {DIMENSIONS}, 1 AS change FROM new_rows
            UNION ALL
            SELECT requested_at, {DIMENSIONS}, -1 FROM old_rows
        ) AS changed
        GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING sum(change) <> 0;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER delivery_message_count_insert AFTER INSERT ON delivery_message
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION delivery_message_count_change();
CREATE TRIGGER delivery_message_count_update AFTER UPDATE ON delivery_message
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION delivery_message_count_change();
CREATE TRIGGER delivery_message_count_delete AFTER DELETE ON delivery_message
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION delivery_message_count_change();
"""
POSTGRESQL_DROP = """
DROP TRIGGER IF EXISTS delivery_message_count_insert ON delivery_message;
DROP TRIGGER IF EXISTS delivery_message_count_update ON delivery_message;
DROP TRIGGER IF EXISTS delivery_message_count_delete ON delivery_message;
DROP FUNCTION IF EXISTS delivery_message_count_change();
"""

# SQLite has row triggers only; its datetimes are text ('2026-12-04 18:52:39.976416', UTC), so the
# hour is the first 13 characters.
SQLITE_HOUR = "substr({row}.requested_at, 1, 13) || ':00:00'"
SQLITE_VALUES = "{hour}, {row}.account_id, {row}.status, {row}.reason, {row}.template_type, {row}.tag, {row}.sms_user_id"


def sqlite_row(row: str) -> str:
    return SQLITE_VALUES.format(hour=SQLITE_HOUR.format(row=row), row=row)


SQLITE_CREATE = [
    f"""CREATE TRIGGER delivery_message_count_insert AFTER INSERT ON delivery_message BEGIN
        INSERT INTO delivery_messagecountchange (hour_start_at, {DIMENSIONS}, count)
        VALUES ({sqlite_row("NEW")}, 1);
    END""",
    f"""CREATE TRIGGER delivery_message_count_update
    AFTER UPDATE OF requested_at, {DIMENSIONS} ON delivery_message
    WHEN NEW.requested_at IS NOT OLD.requested_at OR NEW.account_id IS NOT OLD.account_id
        OR NEW.status IS NOT OLD.status OR NEW.reason IS NOT OLD.reason
        OR NEW.template_type IS NOT OLD.template_type OR NEW.tag IS NOT OLD.tag
        OR NEW.sms_user_id IS NOT OLD.sms_user_id
    BEGIN
        INSERT INTO delivery_messagecountchange (hour_start_at, {DIMENSIONS}, count)
        VALUES ({sqlite_row("OLD")}, -1), ({sqlite_row("NEW")}, 1);
    END""",
    f"""CREATE TRIGGER delivery_message_count_delete AFTER DELETE ON delivery_message BEGIN
        INSERT INTO delivery_messagecountchange (hour_start_at, {DIMENSIONS}, count)
        VALUES ({sqlite_row("OLD")}, -1);
    END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS delivery_message_count_insert",
    "DROP TRIGGER IF EXISTS delivery_message_count_update",
    "DROP TRIGGER IF EXISTS delivery_message_count_delete",
]


def backfill_sql(vendor: str) -> list[str]:
    hour = "date_trunc('hour', requested_at, 'UTC')" if vendor == "postgresql" else SQLITE_HOUR.format(row="delivery_message")
    day = "date_trunc('day', requested_at, 'UTC')" if vendor == "postgresql" else "substr(requested_at, 1, 10) || ' 00:00:00'"
    return [
        f"""INSERT INTO delivery_messagecounthour (hour_start_at, {DIMENSIONS}, count)
        SELECT {hour}, {DIMENSIONS}, count(*) FROM delivery_message GROUP BY 1, 2, 3, 4, 5, 6, 7""",
        f"""INSERT INTO delivery_messagecountday (day_start_at, {DIMENSIONS}, count)
        SELECT {day}, {DIMENSIONS}, count(*) FROM delivery_message GROUP BY 1, 2, 3, 4, 5, 6, 7""",
    ]


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        # Writers wait until the migration commits; readers carry on.
        schema_editor.execute("LOCK TABLE delivery_message IN SHARE ROW EXCLUSIVE MODE")
        schema_editor.execute(POSTGRESQL_CREATE)
    elif vendor == "sqlite":
        for statement in SQLITE_CREATE:
            schema_editor.execute(statement)
    else:
        raise NotImplementedError(f"message counts have no triggers for {vendor}")
    for statement in backfill_sql(vendor):
        schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_DROP)
    else:
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ('delivery', '0010_plain_channel_unavailable_detail'),
        ('smsconsole', '0003_list_column_choice'),
    ]

    operations = [
        migrations.CreateModel(
            name='MessageCountChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('requesting', 'Requesting'), ('awaiting_receipt', 'Awaiting receipt'), ('delivered', 'Delivered'), ('processing_failed', 'Processing failed'), ('send_failed', 'Send failed')], max_length=20)),
                ('reason', models.CharField(blank=True, choices=[('global_intercept', 'Global intercept list'), ('local_intercept', 'Local intercept list'), ('unsubscribed', 'Unsubscribed'), ('keyword_filtered', 'Keyword filtering'), ('variable_error', 'Variable substitution error'), ('content_noncompliant', 'Content non-compliant'), ('frequency_exceeded', 'Frequency exceeded'), ('other', 'Other'), ('invalid_number', 'Invalid number'), ('suspended', 'Suspended'), ('blacklisted', 'Blacklisted'), ('busy', 'Busy'), ('no_answer', 'No answer'), ('content_intercepted', 'Intercepted (template content)'), ('device_fault', 'Device fault'), ('out_of_service_area', 'Out of service area'), ('powered_off', 'Powered off')], max_length=24)),
                ('template_type', models.CharField(choices=[('verification', 'Verification'), ('notification', 'Notification'), ('marketing', 'Marketing')], max_length=16)),
                ('tag', models.CharField(blank=True, max_length=64)),
                ('count', models.BigIntegerField()),
                ('hour_start_at', models.DateTimeField()),
                ('account', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='smsconsole.account')),
                ('sms_user', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='smsconsole.smsuser')),
            ],
            options={
                'indexes': [models.Index(fields=['account', 'hour_start_at'], name='msgcount_change_account')],
            },
        ),
        migrations.CreateModel(
            name='MessageCountDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('requesting', 'Requesting'), ('awaiting_receipt', 'Awaiting receipt'), ('delivered', 'Delivered'), ('processing_failed', 'Processing failed'), ('send_failed', 'Send failed')], max_length=20)),
                ('reason', models.CharField(blank=True, choices=[('global_intercept', 'Global intercept list'), ('local_intercept', 'Local intercept list'), ('unsubscribed', 'Unsubscribed'), ('keyword_filtered', 'Keyword filtering'), ('variable_error', 'Variable substitution error'), ('content_noncompliant', 'Content non-compliant'), ('frequency_exceeded', 'Frequency exceeded'), ('other', 'Other'), ('invalid_number', 'Invalid number'), ('suspended', 'Suspended'), ('blacklisted', 'Blacklisted'), ('busy', 'Busy'), ('no_answer', 'No answer'), ('content_intercepted', 'Intercepted (template content)'), ('device_fault', 'Device fault'), ('out_of_service_area', 'Out of service area'), ('powered_off', 'Powered off')], max_length=24)),
                ('template_type', models.CharField(choices=[('verification', 'Verification'), ('notification', 'Notification'), ('marketing', 'Marketing')], max_length=16)),
                ('tag', models.CharField(blank=True, max_length=64)),
                ('count', models.BigIntegerField()),
                ('day_start_at', models.DateTimeField()),
                ('account', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='smsconsole.account')),
                ('sms_user', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='smsconsole.smsuser')),
            ],
            options={
                'indexes': [models.Index(condition=models.Q(('count', 0)), fields=['id'], name='msgcount_day_zero')],
                'constraints': [models.UniqueConstraint(fields=('account', 'day_start_at', 'status', 'reason', 'template_type', 'tag', 'sms_user'), name='msgcount_day_key')],
            },
        ),
        migrations.CreateModel(
            name='MessageCountHour',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('requesting', 'Requesting'), ('awaiting_receipt', 'Awaiting receipt'), ('delivered', 'Delivered'), ('processing_failed', 'Processing failed'), ('send_failed', 'Send failed')], max_length=20)),
                ('reason', models.CharField(blank=True, choices=[('global_intercept', 'Global intercept list'), ('local_intercept', 'Local intercept list'), ('unsubscribed', 'Unsubscribed'), ('keyword_filtered', 'Keyword filtering'), ('variable_error', 'Variable substitution error'), ('content_noncompliant', 'Content non-compliant'), ('frequency_exceeded', 'Frequency exceeded'), ('other', 'Other'), ('invalid_number', 'Invalid number'), ('suspended', 'Suspended'), ('blacklisted', 'Blacklisted'), ('busy', 'Busy'), ('no_answer', 'No answer'), ('content_intercepted', 'Intercepted (template content)'), ('device_fault', 'Device fault'), ('out_of_service_area', 'Out of service area'), ('powered_off', 'Powered off')], max_length=24)),
                ('template_type', models.CharField(choices=[('verification', 'Verification'), ('notification', 'Notification'), ('marketing', 'Marketing')], max_length=16)),
                ('tag', models.CharField(blank=True, max_length=64)),
                ('count', models.BigIntegerField()),
                ('hour_start_at', models.DateTimeField()),
                ('account', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='smsconsole.account')),
                ('sms_user', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='smsconsole.smsuser')),
            ],
            options={
                'indexes': [models.Index(condition=models.Q(('count', 0)), fields=['id'], name='msgcount_hour_zero')],
                'constraints': [models.UniqueConstraint(fields=('account', 'hour_start_at', 'status', 'reason', 'template_type', 'tag', 'sms_user'), name='msgcount_hour_key')],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
