"""The chat client under hashed static files: `collectstatic` with a manifest storage, the
chat page rendered with the hashed URLs, and Chromium loading it from the collected files
only. With django_chatkit's storage every module the page loads is a hashed file (none
stale, none missing); with Django's default manifest storage the relative imports fetch the
unhashed names (what check W041 warns about)."""

from __future__ import annotations

import functools
import http.server
import json
import re
import threading
from pathlib import Path

import pytest
from django.core.management import call_command
from django.template import engines
from django.test import override_settings

pytestmark = pytest.mark.browser

PAGE = """{% load chatkit %}<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Hashed</title>
{% chatkit_assets %}</head><body>{% chatkit_chat api_url="/chatkit/" live_url="" height="600px" %}</body></html>"""
HASHED = re.compile(r"\.[0-9a-f]{12}\.(js|css)$")


def collect_and_render(root: Path, backend: str) -> None:
    """collectstatic into root/static with `backend`; the chat page as root/index.html."""
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": backend},
    }
    with override_settings(STATIC_ROOT=str(root / "static"), STATIC_URL="/static/", STORAGES=storages, DEBUG=False):
        call_command("collectstatic", "--noinput", verbosity=0)
        html = engines["django"].from_string(PAGE).render({})
    (root / "index.html").write_text(html)


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def load(browser_thread, url: str, screenshot: str | None = None) -> dict:
    """Open the page; the ChatKit endpoint answers an empty thread list."""
    context = browser_thread.browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    seen: dict = {"static": [], "failed": [], "errors": []}
    page.on("response", lambda r: seen["static"].append((r.url, r.status)) if "/static/" in r.url else None)
    page.on("requestfailed", lambda r: seen["failed"].append(r.url))
    page.on("pageerror", lambda exc: seen["errors"].append(str(exc)))
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.route(
        "**/chatkit/",
        lambda route: route.fulfill(
            status=200, content_type="application/json", body=json.dumps({"data": [], "has_more": False, "after": None})
        ),
    )
    page.goto(f"{url}/index.html")
    page.get_by_role("textbox", name="Message").wait_for()
    seen["mounted"] = page.evaluate("() => Boolean(document.getElementById('chatkit').chatkit)")
    if screenshot:
        page.screenshot(path=screenshot)
    context.close()
    return seen


def collect_serve_load(browser_thread, root: Path, backend: str) -> dict:
    collect_and_render(root, backend)
    server, url = serve(root)
    try:
        ours = backend.startswith("django_chatkit.")
        return load(browser_thread, url, "artifacts/client-hashed-static.png" if ours else None)
    finally:
        server.shutdown()


def test_every_module_loads_hashed_from_the_collected_files(browser_thread, tmp_path):
    Path("artifacts").mkdir(exist_ok=True)
    seen = collect_serve_load(browser_thread, tmp_path, "django_chatkit.staticfiles.ManifestStaticFilesStorage")
    assert seen["mounted"]
    assert seen["errors"] == [] and seen["failed"] == []
    loaded = [u for u, _ in seen["static"]]
    modules = {Path(u).name.split(".")[0] for u in loaded if u.endswith(".js")}
    # mount.js and everything it imports, transitively.
    assert {
        "mount",
        "chat",
        "client",
        "composer",
        "threads",
        "messages",
        "stream",
        "live",
        "widgets",
        "markdown",
        "icons",
        "dom",
    } <= modules
    assert all(status == 200 for _, status in seen["static"]), seen["static"]
    assert [u for u in loaded if not HASHED.search(u)] == []


def test_django_default_manifest_storage_leaves_imports_unhashed(browser_thread, tmp_path):
    seen = collect_serve_load(browser_thread, tmp_path, "django.contrib.staticfiles.storage.ManifestStaticFilesStorage")
    unhashed = {Path(u).name for u, _ in seen["static"] if not HASHED.search(u)}
    assert {"chat.js", "client.js"} <= unhashed
