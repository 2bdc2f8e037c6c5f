"""The ten default intercept rules of DESIGN.md. Staff may edit them afterwards."""

from django.db import migrations

HOUR = 3600
DAY = 24 * HOUR

# (code, reason, seconds, scope, customer may delete, permanent, suggested action)
DEFAULT_RULES = [
    (500, "invalid_number", 30 * DAY, "global", True, True,
     "Check the number with the recipient and correct it; do not retry as is."),
    (510, "suspended", HOUR, "global", True, True,
     "The line is suspended; remove it from your list until the recipient confirms it works."),
    (520, "blacklisted", HOUR, "local", True, True,
     "The carrier or channel blacklisted the number for your account; contact support."),
    (530, "busy", 0, "", True, False, "Temporary: retry later."),
    (540, "no_answer", 0, "", True, False, "Temporary: retry later."),
    (550, "content_intercepted", HOUR, "local", True, True,
     "The carrier blocked the content; review the template wording before sending again."),
    (560, "device_fault", HOUR, "global", True, False,
     "Retry after the intercept expires; if it keeps failing, reach the recipient another way."),
    (570, "out_of_service_area", HOUR, "global", True, False,
     "Retry after the intercept expires, when the handset is likely back in coverage."),
    (580, "powered_off", 0, "", True, False, "Temporary: retry later."),
    (590, "other", 0, "", True, False, "Retry later; contact support if it persists."),
]


def create_rules(apps, schema_editor):
    InterceptRule = apps.get_model("intercepts", "InterceptRule")
    for code, reason, seconds, scope, deletable, permanent, action in DEFAULT_RULES:
        InterceptRule.objects.update_or_create(
            return_code=code,
            defaults={
                "reason": reason,
                "duration_seconds": seconds,
                "scope": scope,
                "is_customer_deletable": deletable,
                "is_permanent_failure": permanent,
                "suggested_action": action,
            },
        )


def remove_rules(apps, schema_editor):
    apps.get_model("intercepts", "InterceptRule").objects.filter(
        return_code__in=[row[0] for row in DEFAULT_RULES]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("intercepts", "0001_initial")]
    operations = [migrations.RunPython(create_rules, remove_rules)]
