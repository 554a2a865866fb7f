"""The example site sets itself up from nothing, as `make demo` does."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


def test_fresh_database_migrates_and_sets_up_the_demo(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    migrate = run("migrate", "--noinput", env=env)
    assert migrate.returncode == 0, migrate.stderr[-2000:]
    setup = run("setup_demo", env=env)
    assert setup.returncode == 0, setup.stderr[-2000:]
    assert "Demo ready" in setup.stdout
    again = run("setup_demo", env=env)  # idempotent
    assert again.returncode == 0, again.stderr[-2000:]
    check = run("check", "--database", "default", env=env)
    assert check.returncode == 0, check.stdout + check.stderr


def example_env(tmp_path: Path, **extra: str) -> dict:
    drop = ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DJANGO_DEBUG", "DJANGO_SECRET_KEY")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'site.sqlite3'}", DJANGO_ALLOWED_HOSTS="testserver", **extra)
    return env


def printed(done: subprocess.CompletedProcess, lines: int = 1) -> list[str]:
    """The last lines the shell command printed (the shell prints its own notice first)."""
    return done.stdout.strip().splitlines()[-lines:]


def test_debug_is_off_and_the_secret_key_is_made_per_checkout_unless_set(tmp_path):
    show = "from django.conf import settings; print(settings.DEBUG, settings.SECRET_KEY)"
    first = run("shell", "-c", show, env=example_env(tmp_path))
    assert first.returncode == 0, first.stderr[-2000:]
    debug, key = printed(first)[0].split()
    assert debug == "False"
    assert key != "example-only-not-for-production" and len(key) >= 50
    assert printed(run("shell", "-c", show, env=example_env(tmp_path)))[0].split()[1] == key  # kept
    asked = run("shell", "-c", show, env=example_env(tmp_path, DJANGO_DEBUG="1", DJANGO_SECRET_KEY="from-env"))
    assert printed(asked)[0].split() == ["True", "from-env"]
    ignored = subprocess.run(["git", "check-ignore", ".example-secret-key"], cwd=ROOT, capture_output=True, text=True)
    assert ignored.returncode == 0


LOGIN_AS_A_USER = """
from django.contrib.auth import get_user_model
from django.test import Client
get_user_model().objects.create_user("reader", password="pw-reader")
client = Client()
page = client.get("/", follow=True)
print(page.redirect_chain[-1][0], page.status_code)
done = client.post("/login/?next=/", {"username": "reader", "password": "pw-reader"})
print(done.status_code, done["Location"])
chat = client.get("/")
print(chat.status_code, chat["Content-Security-Policy"])
"""


def test_an_ordinary_user_logs_in_on_the_sites_login_page_and_the_chat_sends_a_csp(tmp_path):
    env = example_env(tmp_path)
    assert run("migrate", "--noinput", env=env).returncode == 0
    done = run("shell", "-c", LOGIN_AS_A_USER, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    login_page, logged_in, chat = printed(done, 3)
    assert login_page == "/login/?next=/ 200"
    assert logged_in == "302 /"
    status, csp = chat.split(" ", 1)
    assert status == "200"
    assert "script-src 'self' 'nonce-" in csp and "object-src 'none'" in csp and "frame-ancestors 'none'" in csp
