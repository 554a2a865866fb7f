"""Django settings of the benchmark's app contenders (not for any real site).

The database is a SQLite file under ``CHATKIT_BENCH_DIR`` (the orchestrator makes a
fresh one per run), in WAL mode; ``CHATKIT_BENCH_DATABASE_URL`` switches to PostgreSQL for the
paging measurement and the PostgreSQL leg of the human-pace scenario. Middleware is the
usual stack of a Django site.

Every ``CHATKIT`` key the benchmark does not name keeps the app's default (checkpoints,
heartbeats, live sync, ``DATABASE_THREADS``). Knobs, for trying other settings without
editing this file (``python -m bench --help`` sets the PostgreSQL ones):

- ``CHATKIT_BENCH_CHATKIT``: a JSON object merged into ``CHATKIT`` on every database;
- ``CHATKIT_BENCH_PG_CHATKIT``: the same, on PostgreSQL only, e.g. ``{"DATABASE_THREADS": 4}``;
- ``CHATKIT_BENCH_PG_OPTIONS``: a JSON object merged into the PostgreSQL database's
  ``OPTIONS``, e.g. ``{"pool": true}`` (Django's psycopg pool; it implies ``CONN_MAX_AGE = 0``);
- ``CHATKIT_BENCH_CONN_MAX_AGE``: the database's ``CONN_MAX_AGE`` (default: Django's 0 on
  SQLite; on PostgreSQL 60, persistent connections as docs/deployment.md recommends);
- ``CHATKIT_BENCH_REDIS_URL``: the Redis channel layer instead of the in-memory one.
"""

import json
import os
from pathlib import Path

_DIR = Path(os.environ.get("CHATKIT_BENCH_DIR") or Path(__file__).resolve().parent / "results" / ".data")

SECRET_KEY = "bench-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_chatkit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "bench.urls"
ASGI_APPLICATION = "bench.asgi.channels_application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# SQLite as it is usually run in production: write-ahead log, fsync at checkpoints.
# CHATKIT_BENCH_SQLITE_INIT="" measures SQLite's defaults (rollback journal, fsync per commit).
SQLITE_INIT = os.environ.get("CHATKIT_BENCH_SQLITE_INIT", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")


def _json_knob(name: str) -> dict:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return {}
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a JSON object, got {raw!r}")
    return value


_POSTGRES = bool(os.environ.get("CHATKIT_BENCH_DATABASE_URL"))

if _POSTGRES:
    import dj_database_url

    DATABASES = {"default": dj_database_url.parse(os.environ["CHATKIT_BENCH_DATABASE_URL"], conn_max_age=60)}
    DATABASES["default"].setdefault("OPTIONS", {}).update(_json_knob("CHATKIT_BENCH_PG_OPTIONS"))
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(_DIR / "bench.sqlite3"),
            "OPTIONS": {"timeout": 20, **({"init_command": SQLITE_INIT} if SQLITE_INIT else {})},
        }
    }

if os.environ.get("CHATKIT_BENCH_CONN_MAX_AGE"):
    DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ["CHATKIT_BENCH_CONN_MAX_AGE"])
if DATABASES["default"].get("OPTIONS", {}).get("pool"):
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # Django refuses persistent connections with a pool

if os.environ.get("CHATKIT_BENCH_REDIS_URL"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": os.environ["CHATKIT_BENCH_REDIS_URL"], "socket_timeout": None}]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CHATKIT = {
    "SERVER_CLASS": "bench.app.BenchChatKitServer",
    "CONTEXT_BUILDER": "bench.app.bench_context",
    # The load comes from one bench user standing for thousands, and the reference has no
    # limits: the per-user and per-process stream limits are off.
    "RATE_LIMIT_PER_MINUTE": None,
    "MAX_STREAMS_PER_USER": None,
    "MAX_STREAMS_PER_PROCESS": None,
    **_json_knob("CHATKIT_BENCH_CHATKIT"),
    **(_json_knob("CHATKIT_BENCH_PG_CHATKIT") if _POSTGRES else {}),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
