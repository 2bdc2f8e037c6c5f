"""Triggers that append callback events in the same transaction as the change they report.

Every path that changes a message's status (hand-over, check failures, receipts, channel rejections,
admin) goes through an UPDATE of delivery_message, and every reply is an INSERT into replies_reply:
triggers on those two tables see them all, and cost next to nothing for an account without an
endpoint. Only the four reported statuses make an event, and only for an account whose endpoint
subscribes to the kind.

Django remakes a SQLite table to alter it, which drops its triggers: a later migration that alters
delivery_message or replies_reply on SQLite must create these again (tests/callbacks/test_capture.py
checks that they exist)."""

from django.db import migrations

REPORTED = "('awaiting_receipt', 'delivered', 'send_failed', 'processing_failed')"
EVENT_COLUMNS = (
    "account_id, kind, message_id, reply_id, status, reason, return_code, failure_detail, "
    "channel_delivered_at, receipt_at, occurred_at, created_at, state, attempts, is_replay"
)

# PostgreSQL: one statement-level trigger per statement, reading the changed rows as transition
# tables (a batch of 5,000 receipts runs it once). Transition tables forbid a column list on the
# trigger, so the status comparison is inside. The join on the endpoint comes first: for accounts
# without one, nothing is inserted.
POSTGRESQL_CREATE = f"""
CREATE FUNCTION callbacks_message_status_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO callbacks_callbackevent ({EVENT_COLUMNS})
    SELECT n.account_id, 'status', n.id, NULL, n.status, n.reason, n.return_code, n.failure_detail,
           n.channel_delivered_at, n.receipt_at, n.updated_at, now(), 'pending', 0, false
    FROM new_rows n
    JOIN callbacks_callbackendpoint e ON e.account_id = n.account_id AND e.is_status_subscribed
    JOIN old_rows o ON o.id = n.id
    WHERE n.status IS DISTINCT FROM o.status AND n.status IN {REPORTED}
    ORDER BY n.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER callbacks_message_status AFTER UPDATE ON delivery_message
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION callbacks_message_status_event();

CREATE FUNCTION callbacks_reply_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO callbacks_callbackevent ({EVENT_COLUMNS})
    SELECT n.account_id, 'reply', n.message_id, n.id, '', '', NULL, '',
           NULL, NULL, n.received_at, now(), 'pending', 0, false
    FROM new_rows n
    JOIN callbacks_callbackendpoint e ON e.account_id = n.account_id AND e.is_reply_subscribed
    ORDER BY n.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER callbacks_reply AFTER INSERT ON replies_reply
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION callbacks_reply_event();
"""
POSTGRESQL_DROP = """
DROP TRIGGER IF EXISTS callbacks_message_status ON delivery_message;
DROP TRIGGER IF EXISTS callbacks_reply ON replies_reply;
DROP FUNCTION IF EXISTS callbacks_message_status_event();
DROP FUNCTION IF EXISTS callbacks_reply_event();
"""

# SQLite: row triggers; datetimes are text in UTC, as Django writes them.
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"
SQLITE_CREATE = [
    f"""CREATE TRIGGER callbacks_message_status AFTER UPDATE OF status ON delivery_message
    WHEN NEW.status IS NOT OLD.status AND NEW.status IN {REPORTED}
        AND EXISTS (SELECT 1 FROM callbacks_callbackendpoint e
                    WHERE e.account_id = NEW.account_id AND e.is_status_subscribed)
    BEGIN
        INSERT INTO callbacks_callbackevent ({EVENT_COLUMNS})
        VALUES (NEW.account_id, 'status', NEW.id, NULL, NEW.status, NEW.reason, NEW.return_code,
                NEW.failure_detail, NEW.channel_delivered_at, NEW.receipt_at, NEW.updated_at,
                {SQLITE_NOW}, 'pending', 0, 0);
    END""",
    f"""CREATE TRIGGER callbacks_reply AFTER INSERT ON replies_reply
    WHEN NEW.account_id IS NOT NULL
        AND EXISTS (SELECT 1 FROM callbacks_callbackendpoint e
                    WHERE e.account_id = NEW.account_id AND e.is_reply_subscribed)
    BEGIN
        INSERT INTO callbacks_callbackevent ({EVENT_COLUMNS})
        VALUES (NEW.account_id, 'reply', NEW.message_id, NEW.id, '', '', NULL, '', NULL, NULL,
                NEW.received_at, {SQLITE_NOW}, 'pending', 0, 0);
    END""",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS callbacks_message_status", "DROP TRIGGER IF EXISTS callbacks_reply"]


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_CREATE)
    elif vendor == "sqlite":
        for statement in SQLITE_CREATE:
            schema_editor.execute(statement)
    else:
        raise NotImplementedError(f"callback events have no triggers for {vendor}")


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_DROP)
    else:
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("callbacks", "0001_initial")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
