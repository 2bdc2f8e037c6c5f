from smsconsole.demo import DEMO_OPERATOR, DEMO_STAFF, demo_is_loaded, demo_people_create
from smsconsole.management.commands._base import ServiceCommand


class Command(ServiceCommand):
    help = "Load the demo into an empty database (does nothing when accounts exist)."

    def handle(self, *args, **options):
        if demo_is_loaded():
            self.stdout.write("Demo data already present; nothing loaded.")
        else:
            demo_people_create()
        self.stdout.write(
            f"Console: http://127.0.0.1:8000/  operator login {DEMO_OPERATOR[0]} / {DEMO_OPERATOR[1]}"
            f"  staff login {DEMO_STAFF[0]} / {DEMO_STAFF[1]}"
        )
