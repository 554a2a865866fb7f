"""Headless Chromium for the browser tests, driven by Playwright's sync API.

Playwright's sync API keeps an asyncio loop running on the thread that started it, which
would make Django's ORM (and pytest-asyncio) refuse to work on the test thread. So the
browser lives on its own thread and tests talk to it through :class:`Remote` proxies that
run every call there; to a test it reads like ordinary Playwright code.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

import pytest

from tests.support.http import session_cookies
from tests.support.services import missing

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class BrowserThread:
    """One thread owning Playwright and Chromium; `call` runs a function on it."""

    def __init__(self) -> None:
        self._jobs: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._main, name="playwright", daemon=True)
        self._started: Future = Future()
        self._thread.start()
        self.browser = Remote(self, self._started.result(timeout=60))

    def _main(self) -> None:
        from playwright.sync_api import sync_playwright

        try:
            playwright = sync_playwright().start()
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except BaseException as exc:  # report launch failures to the test thread
            self._started.set_exception(exc)
            return
        self._started.set_result(browser)
        while True:
            job = self._jobs.get()
            if job is None:
                break
            fn, args, kwargs, future = job
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                future.set_exception(exc)
        browser.close()
        playwright.stop()

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        future: Future = Future()
        self._jobs.put((fn, args, kwargs, future))
        return future.result(timeout=120)

    def stop(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=30)


def _unwrap(value: Any) -> Any:
    if isinstance(value, Remote):
        return value._obj
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


class Remote:
    """A Playwright object living on the browser thread."""

    def __init__(self, runner: BrowserThread, obj: Any) -> None:
        self._runner = runner
        self._obj = obj

    def _wrap(self, value: Any) -> Any:
        if type(value).__module__.startswith("playwright."):
            return Remote(self._runner, value)
        if isinstance(value, list) and value and type(value[0]).__module__.startswith("playwright."):
            return [Remote(self._runner, v) for v in value]
        return value

    def __getattr__(self, name: str) -> Any:
        attr = self._runner.call(getattr, self._obj, name)
        if callable(attr) and not type(attr).__module__.startswith("playwright."):

            def method(*args: Any, **kwargs: Any) -> Any:
                return self._wrap(self._runner.call(attr, *_unwrap(list(args)), **_unwrap(kwargs)))

            return method
        return self._wrap(attr)

    def __repr__(self) -> str:
        return f"Remote({self._obj!r})"


@pytest.fixture(scope="session")
def browser_thread() -> Iterator[BrowserThread]:
    if not os.path.exists(CHROMIUM):
        missing(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    runner = BrowserThread()
    yield runner
    runner.stop()


@pytest.fixture
def expect(browser_thread: BrowserThread) -> Callable[[Remote], Remote]:
    """Playwright's `expect`, run on the browser thread."""
    from playwright.sync_api import expect as pw_expect

    def remote_expect(target: Remote, **kwargs: Any) -> Remote:
        return Remote(browser_thread, browser_thread.call(pw_expect, target._obj, **kwargs))

    return remote_expect


@pytest.fixture
def open_page(browser_thread: BrowserThread, live_daphne) -> Iterator[Callable[..., Remote]]:
    """open_page(path, user=None) -> a page in a fresh browser context, logged in as `user`."""
    contexts: list[Remote] = []

    def open_(
        path: str, user: Any = None, color_scheme: str = "light", viewport: dict | None = None, **options: Any
    ) -> Remote:
        context = browser_thread.browser.new_context(
            base_url=live_daphne.url,
            color_scheme=color_scheme,
            viewport=viewport or {"width": 1280, "height": 900},
            **options,
        )
        contexts.append(context)
        if user is not None:
            context.add_cookies(
                [
                    {"name": name, "value": value, "url": live_daphne.url}
                    for name, value in session_cookies(user).items()
                ]
            )
        page = context.new_page()
        page.set_default_timeout(15000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text) if message.type == "error" else None)
        page.console_errors = console  # attribute on the Remote wrapper
        page.goto(path)
        page.js_errors = errors  # attribute on the Remote wrapper
        return page

    yield open_
    for context in contexts:
        context.close()
