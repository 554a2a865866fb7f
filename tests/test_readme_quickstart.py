"""The README's quickstart works as written: the test runs its commands on a fresh
``django-admin startproject``, writes its code blocks where their first line says, and
streams an answer through daphne, over the Channels endpoint the README routes."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import django_chatkit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
TARGET = re.compile(r"^(?:#|\{#)\s*(?P<path>[\w./-]+)(?P<append> \(add at the end\))?\s*(?:#\})?$")


def blocks(document: str) -> list[tuple[str, str]]:
    return [(lang, body) for lang, body in FENCE.findall(document)]


def file_blocks(document: str) -> list[tuple[str, bool, str]]:
    """(path, append?, text) of every code block whose first line names a file."""
    found = []
    for _lang, body in blocks(document):
        first, _, rest = body.partition("\n")
        match = TARGET.match(first.strip())
        if match:
            found.append((match["path"], bool(match["append"]), rest))
    return found


def shell_commands(document: str) -> list[str]:
    return [
        line.strip() for lang, body in blocks(document) if lang == "sh" for line in body.splitlines() if line.strip()
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done


def test_the_readme_quickstart_builds_a_site_that_streams_an_answer(tmp_path):
    readme = (ROOT / "README.md").read_text()
    commands = shell_commands(readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0])
    expected = [
        "django-admin startproject mysite",
        "cd mysite",
        "python manage.py migrate",
        "python manage.py createsuperuser",
        "daphne mysite.asgi:application",
    ]
    assert [c for c in commands if not c.startswith("pip ")] == expected

    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL")}
    # This checkout's django_chatkit (installed with pip in the README).
    env["PYTHONPATH"] = str(Path(django_chatkit.__file__).parent.parent)
    run([str(BIN / "django-admin"), "startproject", "mysite"], tmp_path, env)
    site = tmp_path / "mysite"
    for path, append, text in file_blocks(readme):
        target = site / path
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a" if append else "w") as handle:
            handle.write(("\n" if append else "") + text)

    python = [sys.executable, "manage.py"]
    checked = run([*python, "check"], site, env)
    assert "django_chatkit.W040" not in checked.stdout + checked.stderr
    run([*python, "migrate", "--noinput"], site, env)
    run(
        [*python, "createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.com"],
        site,
        {**env, "DJANGO_SUPERUSER_PASSWORD": "quickstart-pw"},
    )

    port = free_port()
    daphne = subprocess.Popen(
        [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "mysite.asgi:application"],
        cwd=site,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=20) as http:
            deadline = time.monotonic() + 90  # a bound on a loaded machine, not a speed target
            while True:
                try:
                    login_page = http.get("/admin/login/")
                    break
                except httpx.ConnectError:
                    if daphne.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(
                            "daphne did not start: "
                            + (daphne.communicate(timeout=10)[0] if daphne.poll() is not None else "")
                        )
                    time.sleep(0.2)
            form_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text)[1]
            logged_in = http.post(
                "/admin/login/?next=/",
                data={"csrfmiddlewaretoken": form_token, "username": "admin", "password": "quickstart-pw", "next": "/"},
            )
            assert logged_in.status_code == 302

            page = http.get("/")
            assert page.status_code == 200 and "django_chatkit/mount.js" in page.text
            for module in ("mount.js", "chat.js"):  # static files under daphne
                assert http.get(f"/static/django_chatkit/{module}").status_code == 200

            body = {
                "type": "threads.create",
                "params": {
                    "input": {
                        "content": [{"type": "input_text", "text": "hello quickstart"}],
                        "attachments": [],
                        "inference_options": {},
                    }
                },
            }
            answer = http.post(
                "/chatkit/",
                content=json.dumps(body),
                headers={"Content-Type": "application/json", "X-CSRFToken": http.cookies["csrftoken"]},
            )
            assert answer.status_code == 200, answer.text
            assert answer.headers["content-type"].startswith("text/event-stream")
            events = [json.loads(line[6:]) for line in answer.text.split("\n\n") if line.startswith("data: ")]
            texts = [
                e["item"]["content"][0]["text"]
                for e in events
                if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"
            ]
            assert texts == ["You said: hello quickstart"]
    finally:
        daphne.terminate()
        output = daphne.communicate(timeout=10)[0]
    assert "Traceback" not in output, output


def test_docs_quickstart_gives_the_same_steps():
    readme = (ROOT / "README.md").read_text()
    quickstart = (ROOT / "docs" / "quickstart.md").read_text()
    assert file_blocks(quickstart) == file_blocks(readme)
    readme_commands = shell_commands(readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0])
    assert shell_commands(quickstart) == readme_commands
