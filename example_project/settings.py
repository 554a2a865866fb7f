"""Settings of the example site: SQLite and an in-memory channel layer by default;
PostgreSQL with DATABASE_URL and Redis with REDIS_URL."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _secret_key() -> str:
    """DJANGO_SECRET_KEY, or a key made for this checkout on first use and kept in a
    git-ignored file (a key in the repository would let anyone sign cookies for the site)."""
    key = os.environ.get("DJANGO_SECRET_KEY")
    if key:
        return key
    path = BASE_DIR / ".example-secret-key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    from django.core.management.utils import get_random_secret_key

    key = get_random_secret_key()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    return key


SECRET_KEY = _secret_key()
# Off unless asked for (`make demo` asks): with DEBUG a 500 shows settings and a 404 the URLs.
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")

INSTALLED_APPS = [
    "daphne",  # runserver serves ASGI (and Channels routes) through daphne
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
    "example_project.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
ASGI_APPLICATION = "example_project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "example_project" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if os.environ.get("DATABASE_URL"):
    import dj_database_url

    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "example.sqlite3"}}

if os.environ.get("REDIS_URL"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # No client-side read timeout (redis-py 8 has 5 s): channels_redis blocks to wait.
            "CONFIG": {"hosts": [{"address": os.environ["REDIS_URL"], "socket_timeout": None}]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = BASE_DIR / "media"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

CHATKIT = {
    # Agents answer; without OPENAI_API_KEY they run on the offline model (AGENT_BACKEND "auto").
    "SERVER_CLASS": "django_chatkit.agents.AgentChatKitServer",
    # Composer tools (the page's TOOL_CHOICES ids) -> agents; no choice means the first.
    "AGENTS": {
        "general": "example_project.demo.agents.general_agent",
        "event_finder": "example_project.demo.agents.event_finder_agent",
    },
    "AGENT_MODEL_ALLOWLIST": ["gpt-4.1-mini", "gpt-4.1"],
    # What makes the offline model call a tool (a whole word in the message).
    "OFFLINE_TOOL_TRIGGERS": {
        "line": "show_line_selector",
        "lines": "show_line_selector",
        "article": "show_articles",
        "articles": "show_articles",
        "events": "find_events",
    },
    "OFFLINE_REPLY_DELAY": float(os.environ.get("CHATKIT_OFFLINE_REPLY_DELAY", "0.06")),
    # The demo page's chat UI: "builtin" (this app's client, works offline) or "official"
    # (OpenAI's <openai-chatkit> web component from OpenAI's CDN, given DOMAIN_KEY).
    "CLIENT_UI": os.environ.get("CHATKIT_CLIENT_UI", "builtin"),
    "DOMAIN_KEY": os.environ.get("CHATKIT_DOMAIN_KEY", "local-dev"),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_chatkit": {"handlers": ["console"], "level": "INFO"}},
}
