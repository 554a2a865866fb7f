"""What one widget render may spend: loop iterations, call depth, characters made and time
(``CHATKIT["WIDGET_RENDER_*"]``), charged by the sandbox (:mod:`.sandbox`) as the template
runs, and the size bounds of the string operations that could amplify their input.
Imports no ORM.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from jinja2.exceptions import SecurityError

from ..conf import chatkit_settings

__all__ = ["RenderLimitExceeded", "render_budget"]


class RenderLimitExceeded(SecurityError):
    """A render went over one of its bounds (time, loop iterations, call depth, characters)."""


class _RenderBudget:
    """What one render may still spend; the sandbox charges it as the template runs."""

    __slots__ = (
        "charges",
        "chars",
        "deadline",
        "depth",
        "iterations",
        "max_chars",
        "max_depth",
        "max_iterations",
        "timeout",
    )

    def __init__(self) -> None:
        self.timeout = chatkit_settings.WIDGET_RENDER_TIMEOUT
        self.deadline = time.monotonic() + self.timeout
        self.iterations = 0
        self.max_iterations = chatkit_settings.WIDGET_RENDER_MAX_ITERATIONS
        self.depth = 0
        self.max_depth = chatkit_settings.WIDGET_RENDER_MAX_DEPTH
        self.chars = 0
        self.charges = 0
        self.max_chars = chatkit_settings.WIDGET_RENDER_MAX_CHARS

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise RenderLimitExceeded(
                f"the render took longer than {self.timeout:g} s (CHATKIT['WIDGET_RENDER_TIMEOUT'])"
            )

    def iterate(self, iterable: Any) -> Iterator[Any]:
        for item in iterable:
            self.iterations += 1
            if self.iterations > self.max_iterations:
                raise RenderLimitExceeded(
                    f"the render went over {self.max_iterations} loop iterations "
                    "(CHATKIT['WIDGET_RENDER_MAX_ITERATIONS'])"
                )
            if not self.iterations & 63:
                self.check_time()
            yield item

    def charge(self, value: Any) -> Any:
        """Count the characters (or items) of a value the template made."""
        if isinstance(value, (str, list, tuple, dict)):
            self.chars += len(value)
            if self.chars > self.max_chars:
                raise RenderLimitExceeded(
                    f"the render produced over {self.max_chars} characters (CHATKIT['WIDGET_RENDER_MAX_CHARS'])"
                )
        self.charges += 1
        if not self.charges & 15:  # the clock every 16 values: a value is cheap to make, its limit is not
            self.check_time()
        return value

    def expect(self, size: int) -> None:
        """Refuse, before making it, a value of ``size`` characters that would not fit."""
        if size > self.max_chars - self.chars:
            raise RenderLimitExceeded(
                f"the result would be {size} characters, over what the render may produce "
                "(CHATKIT['WIDGET_RENDER_MAX_CHARS'])"
            )


class _RenderState(threading.local):
    budget: _RenderBudget | None = None  # this thread's render in progress, if any


render_state = _RenderState()


def current_budget() -> _RenderBudget | None:
    return render_state.budget


def value_size(value: Any) -> int:
    if isinstance(value, (str, list, tuple, dict)):
        return len(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value)
    return len(str(value)) if isinstance(value, float) else 0


_NUMBER_RUN = re.compile(r"[0-9]+")


#: The filters and operators :func:`expected_size` bounds (the others never amplify their input).
AMPLIFIERS = frozenset(
    {
        "center",
        "ljust",
        "rjust",
        "zfill",
        "expandtabs",
        "batch",
        "slice",
        "indent",
        "truncate",
        "replace",
        "join",
        "format",
        "format_map",
        "%",
        "wordwrap",
    }
)


def expected_size(name: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """An upper bound of the size of what string operation ``name`` makes (0: not an amplifier)."""
    text = value if isinstance(value, str) else None
    if name in ("center", "ljust", "rjust", "zfill", "expandtabs", "batch", "slice", "indent", "truncate"):
        widths = [value_size(a) for a in (*args, *kwargs.values()) if isinstance(a, int) and not isinstance(a, bool)]
        size = max(widths, default=0)
        if name == "indent":
            width = kwargs.get("width", args[0] if args else 4)
            lines = str(value).count("\n") + 1
            size = max(size, lines * (len(width) if isinstance(width, str) else value_size(width)))
        return size + value_size(value)
    if name == "replace" and text is not None and len(args) >= 2:
        old, new = str(args[0]), str(args[1])
        count = text.count(old) if old else len(text) + 1
        return len(text) + count * len(new)
    if name == "join":
        parts = args[0] if text is not None else value  # str.join(parts) / parts|join(sep)
        separator = text if text is not None else str(kwargs.get("d", args[0] if args else ""))
        if hasattr(parts, "__len__"):
            return len(parts) * (len(separator) + 1)
        return 0
    if name in ("format", "format_map", "%") and text is not None:
        numbers = [int(run) for run in _NUMBER_RUN.findall(text)]
        numbers += [value_size(a) for a in (*args, *kwargs.values()) if isinstance(a, int) and not isinstance(a, bool)]
        return len(text) + max(numbers, default=0)
    if name == "wordwrap":
        wrap = kwargs.get("wrapstring", args[2] if len(args) > 2 else None)
        return value_size(value) * (1 + len(wrap) if isinstance(wrap, str) else 2)
    return 0


@contextmanager
def render_budget() -> Iterator[None]:
    """Bound the renders inside (this thread's), as :meth:`WidgetDefinition.render` does."""
    previous = current_budget()
    render_state.budget = _RenderBudget()
    try:
        yield
    finally:
        render_state.budget = previous
