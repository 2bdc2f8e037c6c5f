"""Messages that failed because their channel stayed down kept the channel's exception text
(`channel b unavailable after 12 attempts: ConnectionError: HTTPConnectionPool(…)`) as their failure
detail, which the API returns to customers. Rewrite it as the sentence dispatch writes now; the
exception stays in the message's channel_error send-log events, for staff."""

import re

from django.db import migrations

LEGACY = re.compile(r"^channel \S+ unavailable after (\d+) attempts")


def span(seconds: float) -> str:
    count, unit = (
        (round(seconds / 3600), "hour") if seconds >= 3570 else
        (round(seconds / 60), "minute") if seconds >= 59.5 else
        (round(seconds), "second")
    )  # fmt: skip
    return f"{count} {unit}{'' if count == 1 else 's'}"


def rewrite(apps, schema_editor):
    Message = apps.get_model("delivery", "Message")
    legacy = Message.objects.filter(
        status="processing_failed", reason="other", failure_detail__startswith="channel "
    ).only("pk", "failure_detail", "requested_at", "updated_at")
    changed = []
    for message in legacy.iterator(chunk_size=2000):
        match = LEGACY.match(message.failure_detail)
        if not match:
            continue
        seconds = max((message.updated_at - message.requested_at).total_seconds(), 0)
        message.failure_detail = (
            "The carrier connection was unavailable; "
            f"the platform retried {match[1]} times over {span(seconds)}."
        )
        changed.append(message)
        if len(changed) >= 2000:
            Message.objects.bulk_update(changed, ["failure_detail"])
            changed = []
    Message.objects.bulk_update(changed, ["failure_detail"])


class Migration(migrations.Migration):
    dependencies = [("delivery", "0009_kannel_channel")]

    operations = [migrations.RunPython(rewrite, migrations.RunPython.noop, elidable=True)]
