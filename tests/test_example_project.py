"""The example site sets itself up from nothing, as `make demo` does."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)


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
