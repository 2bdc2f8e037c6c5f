from django.conf import settings

from smsconsole.demo import ACCOUNTS, DEMO_OPERATOR, DEMO_STAFF, demo_is_loaded, demo_load
from smsconsole.management.commands._base import ServiceCommand


class _Unstyled:
    """The command's stderr as a plain stream for the progress bar: Django's wrapper would end every
    write with a newline and paint it as an error."""

    def __init__(self, wrapper):
        self.wrapper = wrapper

    def write(self, text: str) -> None:
        self.wrapper.write(text, style_func=lambda x: x, ending="")

    def flush(self) -> None:
        self.wrapper.flush()

    def isatty(self) -> bool:
        return self.wrapper.isatty()


class Command(ServiceCommand):
    help = "Load the demo (accounts and 30 days of traffic through the real pipeline) into an empty database."

    def add_arguments(self, parser):
        parser.add_argument("--messages", type=int, default=20_000, help="About how many messages to replay.")
        parser.add_argument(
            "--host",
            default="127.0.0.1:8000",
            help="The address the console is served on (`make run` passes its HOST), for the printed link.",
        )

    def handle(self, *args, messages, host, **options):
        # DEBUG renders and keeps every SQL statement; the replay runs a few hundred thousand.
        settings.DEBUG = False
        if demo_is_loaded():
            self.stdout.write("Demo data already present; nothing loaded.")
        else:
            self.stdout.write(
                f"Loading the demo: about {messages:,} messages over 30 days, through the pipeline…"
            )
            self.stdout.flush()
            demo_load(target_messages=messages, out=_Unstyled(self.stderr))
        logins = [
            f"{spec.operator[0]} / {spec.operator[1]} ({spec.name})" for spec in ACCOUNTS if spec.operator
        ]
        self.stdout.write("")
        self.stdout.write(f"Console: http://{host}/")
        self.stdout.write(f"  operator login: {DEMO_OPERATOR[0]} / {DEMO_OPERATOR[1]}")
        self.stdout.write("  other operators: " + ", ".join(logins[1:]))
        self.stdout.write(f"  staff login:    {DEMO_STAFF[0]} / {DEMO_STAFF[1]}  (admin at /admin/)")
