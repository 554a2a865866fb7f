"""``manage.py chatkit_import_widgets [PATH ...]``: load ``.widget`` files into the database."""

from __future__ import annotations

import dataclasses

from django.core.management.base import BaseCommand, CommandError

from ...widgets import NOT_RENDERED, WidgetDefinition, WidgetError, discover_widget_files, save_widget_definition


class Command(BaseCommand):
    help = (
        "Import .widget files (the format of OpenAI's widget builder) as widget templates. "
        "PATHs are files or directories; without any, CHATKIT['WIDGET_DIRS'] and every app's "
        "widgets/ directory. Idempotent: an unchanged file changes nothing, a changed one "
        "makes a new version."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="*", help=".widget files or directories holding them")
        parser.add_argument(
            "--lenient",
            action="store_true",
            help="Render them with the ChatKit SDK's rules (no schema check, undefined values allowed): "
            "for .widget files written for the SDK, such as OpenAI's samples.",
        )

    def handle(self, *args, paths: list[str], lenient: bool = False, **options):
        files = discover_widget_files(list(paths))
        if not files:
            raise CommandError("No .widget files found" + (f" in {', '.join(paths)}." if paths else "."))
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        failures = []
        for path in files:
            if not path.exists():
                failures.append(f"{path}: no such file")
                continue
            try:
                definition = WidgetDefinition.from_file(path)
                if lenient:
                    definition = dataclasses.replace(definition, lenient=True)
                template, status = save_widget_definition(definition, comment=f"Imported from {path.name}")
            except WidgetError as exc:
                failures.append(f"{path}: {exc}")
                continue
            counts[status] += 1
            if definition.check_data is None:
                self.stderr.write(f"{path}: {NOT_RENDERED}")
            if options["verbosity"] >= 1:
                self.stdout.write(f"{status:9} {template.name} (version {template.version})")
        summary = ", ".join(f"{n} {status}" for status, n in counts.items())
        if failures:
            raise CommandError("Some widget files were not imported:\n" + "\n".join(failures) + f"\n({summary})")
        self.stdout.write(self.style.SUCCESS(f"Widget templates: {summary}."))
