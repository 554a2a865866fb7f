"""``manage.py chatkit_export_widgets OUTPUT_DIR [NAME ...]``: write templates as ``.widget`` files."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ...models import WidgetTemplate
from ...widgets import widget_filename


class Command(BaseCommand):
    help = (
        "Export widget templates (all, or the NAMEs given) as <name>.widget files into OUTPUT_DIR. "
        "Idempotent: a file that already holds the same template is left untouched."
    )

    def add_arguments(self, parser):
        parser.add_argument("output_dir", help="directory to write the .widget files into (created if missing)")
        parser.add_argument("names", nargs="*", help="template names (default: every template)")

    def handle(self, *args, output_dir: str, names: list[str], **options):
        templates = WidgetTemplate.objects.order_by("name")
        if names:
            templates = templates.filter(name__in=names)
            missing = sorted(set(names) - set(templates.values_list("name", flat=True)))
            if missing:
                raise CommandError(f"No widget template named {', '.join(map(repr, missing))}.")
        directory = Path(output_dir)
        directory.mkdir(parents=True, exist_ok=True)
        written = unchanged = 0
        for template in templates:
            path = directory / widget_filename(template.name)
            text = template.definition().to_widget_file()
            if path.exists() and path.read_text(encoding="utf-8") == text:
                unchanged += 1
                continue
            path.write_text(text, encoding="utf-8")
            written += 1
            if options["verbosity"] >= 1:
                self.stdout.write(f"wrote {path}")
        self.stdout.write(self.style.SUCCESS(f"Widget templates: {written} written, {unchanged} unchanged."))
