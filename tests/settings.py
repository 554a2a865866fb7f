"""Settings for the test suite: SQLite by default; DATABASE_URL / REDIS_URL switch to
PostgreSQL and the Redis channel layer (CI runs the suite both ways)."""

import os
import tempfile

SECRET_KEY = "tests-only"
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
    "rest_framework",
    "django_ace",
    "django_chatkit",
    "tests",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "tests.urls"
ASGI_APPLICATION = "tests.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

_TMP = os.environ.get("CHATKIT_TEST_TMP") or tempfile.mkdtemp(prefix="chatkit-tests-")

if os.environ.get("DATABASE_URL"):
    import dj_database_url

    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
    DATABASES["default"]["TEST"] = {"NAME": f"test_chatkit_{os.getpid()}"}
else:
    # A file, not :memory:, so the daphne server process of the live tests shares it.
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(_TMP, "db.sqlite3"),
            "TEST": {"NAME": os.path.join(_TMP, "test-db.sqlite3")},
            "OPTIONS": {"timeout": 20},
        }
    }

if os.environ.get("REDIS_URL"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # No client-side read timeout (redis-py 8 has 5 s): channels_redis blocks to wait.
                "hosts": [{"address": os.environ["REDIS_URL"], "socket_timeout": None}],
                "prefix": f"chatkit-test-{os.getpid()}",
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"
MEDIA_ROOT = os.path.join(_TMP, "media")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

CHATKIT = {
    "SERVER_CLASS": "tests.servers.ScriptedServer",
    "OFFLINE_REPLY_DELAY": 0,
    # A test daphne process stopped with answers still running drains them this long.
    "DRAIN_TIMEOUT": 2.0,
    # The suite sends many requests and streams as one user: the limits have their own tests.
    "RATE_LIMIT_PER_MINUTE": None,
    "MAX_STREAMS_PER_USER": None,
    "MAX_LIVE_SOCKETS_PER_USER": None,
}
