from django.db import migrations

DEFAULT_WORDS = ["配信停止", "停止", "STOP", "UNSUBSCRIBE", "退订", "TD"]


def create_words(apps, schema_editor):
    UnsubscribeKeyword = apps.get_model("replies", "UnsubscribeKeyword")
    for word in DEFAULT_WORDS:
        UnsubscribeKeyword.objects.get_or_create(word=word)


def remove_words(apps, schema_editor):
    apps.get_model("replies", "UnsubscribeKeyword").objects.filter(word__in=DEFAULT_WORDS).delete()


class Migration(migrations.Migration):
    dependencies = [("replies", "0001_initial")]
    operations = [migrations.RunPython(create_words, remove_words)]
