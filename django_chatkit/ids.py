"""Collision-safe, time-sortable ids with the SDK's prefixes.

``thr_01JD3Z6X8K2M4N6P8R0T2V4X6Z``: the SDK's prefix, then 26 Crockford base32
characters holding a 48-bit millisecond timestamp and 80 random bits (the ULID layout).
Within one process, ids made in the same millisecond increase monotonically, so
sorting ids sorts them by creation.
"""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80
_lock = threading.Lock()
_last_ms = -1
_last_random = 0


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, index = divmod(value, 32)
        chars.append(_ALPHABET[index])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """Return ``prefix_`` followed by a new ULID."""
    global _last_ms, _last_random
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms <= _last_ms:
            # Same (or an earlier, after a clock step) millisecond: keep increasing.
            now_ms = _last_ms
            _last_random = (_last_random + 1) & ((1 << _RANDOM_BITS) - 1)
        else:
            _last_ms = now_ms
            _last_random = int.from_bytes(os.urandom(10), "big") >> 1  # leave room to count up
        value = (now_ms << _RANDOM_BITS) | _last_random
    return f"{prefix}_{_encode(value, 26)}"
