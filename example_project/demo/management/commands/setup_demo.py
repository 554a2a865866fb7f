"""Prepare the example site: a demo login and the shipped widget templates.

Idempotent: run it as often as you like (``make demo`` runs it on every start).
"""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand

WIDGETS_DIR = Path(__file__).resolve().parents[2] / "widgets"


class Command(BaseCommand):
    help = "Create the demo user (demo/demo) and import the example's .widget templates."

    def handle(self, *args, **options):
        users = get_user_model()
        user = users.objects.filter(username="demo").first()
        if user is None:
            users.objects.create_superuser("demo", "demo@example.com", "demo")
            self.stdout.write("Created the user demo (password: demo), an admin.")
        if "chatkit_import_widgets" in get_commands():
            call_command("chatkit_import_widgets", str(WIDGETS_DIR), stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo ready: http://127.0.0.1:8000/ (log in as demo / demo)."))
