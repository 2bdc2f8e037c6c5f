"""`runserver` with the periodic jobs: without a broker there is no beat, so this process runs them.

Django's development server (with static files, as `django.contrib.staticfiles` serves them) plus
`smsconsole.periodic.EmbeddedBeat` in a thread, only when tasks run eagerly (no
`CELERY_BROKER_URL`; with a broker, beat runs the jobs). `inner_run` is what serves: under the
autoreloader it runs in the reloaded child alone, so the jobs never run twice.
"""

import os

from django.conf import settings
from django.contrib.staticfiles.management.commands.runserver import Command as StaticRunserverCommand

from smsconsole.periodic import EmbeddedBeat


class Command(StaticRunserverCommand):
    help = StaticRunserverCommand.help + " Without a broker, also runs the periodic jobs (beat's schedule)."

    def inner_run(self, *args, **options):
        if embedded_beat_wanted():
            EmbeddedBeat().start()
            self.stdout.write("Periodic jobs run in this process (no CELERY_BROKER_URL, so no beat).")
        return super().inner_run(*args, **options)


def embedded_beat_wanted() -> bool:
    """No broker (so no beat), and not turned off with SMS_EMBEDDED_BEAT=0."""
    return settings.CELERY_TASK_ALWAYS_EAGER and os.environ.get("SMS_EMBEDDED_BEAT", "1") != "0"
