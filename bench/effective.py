"""``python -m bench.effective [--migrate]``: the settings the app contenders run with, as JSON.

The human-pace scenario records them with its figures, so a result says which
checkpoint, heartbeat, live-sync and database settings produced it. ``--migrate`` first
creates the app's tables (one Django start-up for both).
"""

from __future__ import annotations

import json
import sys

#: the CHATKIT keys of durable runs and database work (today's and any added later)
PREFIXES = ("RUN_", "LIVE_", "DATABASE_", "DISCONNECT", "DRAIN_", "CHECKPOINT", "HEARTBEAT")


def main(argv: list[str]) -> int:
    import django
    from django.conf import settings

    django.setup()
    if "--migrate" in argv:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, skip_checks=True)
    from django_chatkit import conf

    keys = sorted(key for key in conf.DEFAULTS if key.startswith(PREFIXES))
    chatkit = {key: settings.CHATKIT.get(key, conf.DEFAULTS[key]) for key in keys}
    chatkit.update(
        {key: value for key, value in settings.CHATKIT.items() if key not in ("SERVER_CLASS", "CONTEXT_BUILDER")}
    )
    database = settings.DATABASES["default"]
    json.dump(
        {
            "chatkit": chatkit,
            "app_defaults": [key for key in keys if key not in settings.CHATKIT],
            "database": {
                "engine": database["ENGINE"].rsplit(".", 1)[-1],
                "conn_max_age": database.get("CONN_MAX_AGE", 0),
                "options": {k: v for k, v in database.get("OPTIONS", {}).items() if k != "password"},
            },
            "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1],
            "django_chatkit": django_chatkit_path(),
        },
        sys.stdout,
        default=str,
    )
    return 0


def django_chatkit_path() -> str:
    import django_chatkit

    return django_chatkit.__file__


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
