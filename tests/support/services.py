"""Outside programs some tests need (Chromium, Node.js, PostgreSQL, Redis).

Without one, those tests skip with the reason, so `make test` works on any machine; under
``CI=true`` the same absence fails the test instead, so a CI machine that lost a service
cannot pass by skipping what it was meant to run."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def missing(reason: str, *, module_level: bool = False) -> NoReturn:
    """Skip (or, under ``CI=true``, fail) because ``reason``: a service is not there."""
    if in_ci():
        pytest.fail(f"{reason}; CI=true requires it", pytrace=False)
    pytest.skip(reason, allow_module_level=module_level)
