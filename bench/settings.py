"""Django settings of the benchmark's app contenders (not for any real site).

The database is a SQLite file under ``CHATKIT_BENCH_DIR`` (the orchestrator makes a
fresh one per run), in WAL mode; ``CHATKIT_BENCH_DATABASE_URL`` switches to PostgreSQL for the
paging measurement. Middleware is the usual stack of a Django site.
"""

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

if os.environ.get("CHATKIT_BENCH_DATABASE_URL"):
    import dj_database_url

    DATABASES = {"default": dj_database_url.parse(os.environ["CHATKIT_BENCH_DATABASE_URL"])}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(_DIR / "bench.sqlite3"),
            "OPTIONS": {"timeout": 20, **({"init_command": SQLITE_INIT} if SQLITE_INIT else {})},
        }
    }

CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CHATKIT = {
    "SERVER_CLASS": "bench.app.BenchChatKitServer",
    "CONTEXT_BUILDER": "bench.app.bench_context",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
