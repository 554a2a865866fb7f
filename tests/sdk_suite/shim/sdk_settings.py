"""Django settings of the SDK suite run: this app's models on SQLite, or on the
database named by DATABASE_URL (as the main suite)."""

import os
import tempfile

SECRET_KEY = "sdk-suite-only"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django_chatkit",
]
ROOT_URLCONF = "django_chatkit.urls"

if os.environ.get("DATABASE_URL"):
    import dj_database_url

    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
    DATABASES["default"]["TEST"] = {"NAME": f"test_chatkit_sdk_{os.getpid()}"}
else:
    _TMP = tempfile.mkdtemp(prefix="chatkit-sdk-suite-")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(_TMP, "db.sqlite3"),
            "TEST": {"NAME": os.path.join(_TMP, "test-db.sqlite3")},
        }
    }
