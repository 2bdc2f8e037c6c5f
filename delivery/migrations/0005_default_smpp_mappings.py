"""Default SMPP (stat, err) → return code mappings. err values are the GSM MAP error codes most
SMSCs put in delivery receipts; "*" catches the rest of a stat. Staff can edit them in admin."""

from django.db import migrations

DEFAULTS = [
    ("DELIVRD", "*", None, "Delivered to the handset"),
    ("UNDELIV", "001", 500, "Unknown subscriber"),
    ("UNDELIV", "005", 500, "Unidentified subscriber"),
    ("UNDELIV", "009", 510, "Illegal subscriber"),
    ("UNDELIV", "011", 510, "Teleservice not provisioned"),
    ("UNDELIV", "013", 520, "Call barred"),
    ("UNDELIV", "027", 580, "Absent subscriber (handset off)"),
    ("UNDELIV", "031", 530, "Subscriber busy for MT SMS"),
    ("UNDELIV", "032", 560, "SM delivery failure (memory full / handset error)"),
    ("UNDELIV", "034", 590, "System failure"),
    ("UNDELIV", "*", 590, "Undeliverable, unspecified"),
    ("EXPIRED", "*", 570, "Validity period expired: handset unreachable"),
    ("REJECTD", "*", 550, "Rejected by the SMSC (content or sender policy)"),
    ("DELETED", "*", 590, "Deleted at the SMSC"),
    ("UNKNOWN", "*", 590, "Unknown state"),
]


def create(apps, schema_editor):
    SmppErrorMapping = apps.get_model("delivery", "SmppErrorMapping")
    for stat, err, code, note in DEFAULTS:
        SmppErrorMapping.objects.get_or_create(stat=stat, err=err, defaults={"return_code": code, "note": note})


def remove(apps, schema_editor):
    SmppErrorMapping = apps.get_model("delivery", "SmppErrorMapping")
    for stat, err, _code, _note in DEFAULTS:
        SmppErrorMapping.objects.filter(stat=stat, err=err).delete()


class Migration(migrations.Migration):
    dependencies = [("delivery", "0004_webhook_inbox")]
    operations = [migrations.RunPython(create, remove)]
