"""Deprecated: the offline model moved to :mod:`django_chatkit.offline` (with the echo
server), and this module goes in the next release."""

from __future__ import annotations

import warnings
from typing import Any

from . import offline

#: The names this module had; each is now in django_chatkit.offline.
_MOVED = frozenset({"MENTION_CONTEXT_HEADER", "OFFLINE_MODEL_NAME", "OfflineModel", "run_plain_runner_calls_offline"})


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        warnings.warn(
            f"django_chatkit.offline_model is deprecated: import {name} from django_chatkit.offline.",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(offline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
