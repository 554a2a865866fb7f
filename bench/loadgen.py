"""The load generator: runs in its own process, one JSON result per JSON spec.

    python -m bench.loadgen '{"target": "http://127.0.0.1:8001/chatkit/", "streams": 200, "deltas": 500}'
    python -m bench.loadgen '{"target": "floor", "streams": 1, "deltas": 5000}'
    python -m bench.loadgen --serve    # a spec per stdin line, a result per stdout line

``target`` is a URL (every stream is one ``threads.create`` POST, all started at once)
or ``"floor"``: the SDK's ``server.process`` iterated in this process, with the
in-memory store and no HTTP. For each stream it records the time to the first SSE
event, the time to the end, the number of events, and any error (a non-200 status, an
``error`` event, a connection failure, or a stream that did not end with the answer).

A spec with ``"rate"`` is the human-pace load: every stream asks for ``deltas`` deltas at
``rate`` a second (``bench:N@R``), stream ``i`` starts ``i * stagger / streams`` seconds
after the common start (``start_at``, a ``time.time()`` so that two load generator
processes share it; ``part``/``parts`` pick every ``parts``-th stream). Each SSE event is
timestamped when it arrives, and each stream reports its time to first event, its deltas,
and the gaps between consecutive deltas in milliseconds.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from .bodies import create_request

_ERROR_MARKERS = (b'"type":"error"', b'"type": "error"')
_END_MARKER = b'"type":"thread.item.done"'


class _Counter:
    """Counts SSE events (blank-line terminated) across chunk boundaries."""

    def __init__(self) -> None:
        self.events = 0
        self.error = False
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        data = self._tail + chunk
        self.events += data.count(b"\n\n")
        if any(marker in data for marker in _ERROR_MARKERS):
            self.error = True
        self._tail = data[-64:]  # long enough to hold a marker split across chunks
        # do not count a "\n\n" kept in the tail twice
        self.events -= self._tail.count(b"\n\n")

    def finish(self) -> None:
        self.events += self._tail.count(b"\n\n")
        self._tail_final = self._tail


async def _http_stream(session: Any, url: str, body: bytes, start_gate: asyncio.Event) -> dict[str, Any]:
    import aiohttp

    await start_gate.wait()
    started = time.perf_counter()
    first = None
    counter = _Counter()
    last = b""
    try:
        async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
            if response.status != 200:
                text = (await response.read())[:300].decode(errors="replace")
                return {
                    "ok": False,
                    "error": f"HTTP {response.status}: {text}",
                    "ttfe": None,
                    "total": time.perf_counter() - started,
                    "events": 0,
                }
            async for chunk in response.content.iter_any():
                if first is None and b"data: " in chunk:
                    first = time.perf_counter() - started
                counter.feed(chunk)
                last = _last_event(last, chunk)
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        return {
            "ok": False,
            "error": f"{type(exc).__name__}: {exc}",
            "ttfe": first,
            "total": time.perf_counter() - started,
            "events": counter.events,
        }
    total = time.perf_counter() - started
    counter.finish()
    return _verdict(first, total, counter, last)


def _last_event(last: bytes, chunk: bytes) -> bytes:
    """The bytes of the latest event so far (from its ``data: ``), however long it is."""
    start = chunk.rfind(b"data: ")
    if start >= 0:
        return chunk[start:]
    combined = last + chunk  # the marker may straddle the two
    start = combined.rfind(b"data: ", max(0, len(last) - 5))
    return combined[start:] if start >= 0 else combined


def _verdict(first: float | None, total: float, counter: _Counter, last: bytes) -> dict[str, Any]:
    error = None
    if counter.error:
        error = "the stream carried an error event"
    elif _END_MARKER not in last[:200]:
        error = "the stream did not end with the finished answer"
    return {"ok": error is None, "error": error, "ttfe": first, "total": total, "events": counter.events}


async def run_http(spec: dict[str, Any]) -> dict[str, Any]:
    import aiohttp

    body = create_request(spec["deltas"])
    gate = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=spec.get("timeout", 300))
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = [asyncio.create_task(_http_stream(session, spec["target"], body, gate)) for _ in range(spec["streams"])]
        await asyncio.sleep(0)
        started = time.perf_counter()
        gate.set()
        results = await asyncio.gather(*tasks)
        wall = time.perf_counter() - started
    return {"wall": wall, "streams": results}


_DELTA_MARKER = b"text_delta"


async def _paced_stream(session: Any, url: str, body: bytes, start_at: float) -> dict[str, Any]:
    import aiohttp

    await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
    started = time.perf_counter()
    first = None
    deltas = 0
    gaps: list[float] = []
    last_delta = None
    tail = b""
    last_event = b""
    error = None
    try:
        async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
            if response.status != 200:
                text = (await response.read())[:300].decode(errors="replace")
                error = f"HTTP {response.status}: {text}"
            else:
                async for chunk in response.content.iter_any():
                    now = time.perf_counter()
                    *events, tail = (tail + chunk).split(b"\n\n")
                    for event in events:
                        if first is None:
                            first = now - started
                        if _DELTA_MARKER in event:
                            deltas += 1
                            if last_delta is not None:
                                gaps.append(round((now - last_delta) * 1000, 2))
                            last_delta = now
                        elif any(marker in event for marker in _ERROR_MARKERS):
                            error = "the stream carried an error event"
                        last_event = event
                if error is None and _END_MARKER not in last_event[:200]:
                    error = "the stream did not end with the finished answer"
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    return {
        "ok": error is None,
        "error": error,
        "ttfe": first,
        "total": time.perf_counter() - started,
        "deltas": deltas,
        "gaps": gaps,
    }


async def run_paced(spec: dict[str, Any]) -> dict[str, Any]:
    import aiohttp

    body = create_request(spec["deltas"], spec["rate"])
    streams, stagger = spec["streams"], spec["stagger"]
    part, parts = spec.get("part", 0), spec.get("parts", 1)
    # the common start, on this process's clock
    start = time.perf_counter() + max(0.0, spec.get("start_at", time.time()) - time.time())
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=spec.get("timeout", 900), sock_read=spec.get("read_timeout", 60))
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = [
            asyncio.create_task(_paced_stream(session, spec["target"], body, start + index * stagger / streams))
            for index in range(part, streams, parts)
        ]
        results = await asyncio.gather(*tasks)
    return {"wall": time.perf_counter() - start, "streams": results}


async def _floor_stream(server: Any, body: bytes, gate: asyncio.Event) -> dict[str, Any]:
    await gate.wait()
    started = time.perf_counter()
    first = None
    counter = _Counter()
    last = b""
    result = await server.process(body, {})
    async for chunk in result:
        if first is None:
            first = time.perf_counter() - started
        counter.feed(chunk)
        last = _last_event(last, chunk)
    total = time.perf_counter() - started
    counter.finish()
    return _verdict(first, total, counter, last)


async def run_floor(spec: dict[str, Any]) -> dict[str, Any]:
    from .reference import make_server

    server = make_server()
    body = create_request(spec["deltas"])
    # Warm the SDK's code paths (pydantic schemas are built lazily) before measuring.
    await _floor_stream(server, create_request(10), _open_gate())
    gate = asyncio.Event()
    tasks = [asyncio.create_task(_floor_stream(server, body, gate)) for _ in range(spec["streams"])]
    await asyncio.sleep(0)
    started = time.perf_counter()
    gate.set()
    results = await asyncio.gather(*tasks)
    return {"wall": time.perf_counter() - started, "streams": results}


def _open_gate() -> asyncio.Event:
    gate = asyncio.Event()
    gate.set()
    return gate


def run(spec: dict[str, Any]) -> dict[str, Any]:
    if "rate" in spec:
        return asyncio.run(run_paced(spec))
    runner = run_floor if spec["target"] == "floor" else run_http
    return asyncio.run(runner(spec))


def main(argv: list[str]) -> int:
    if argv == ["--serve"]:
        for line in sys.stdin:
            if line.strip():
                sys.stdout.write(json.dumps(run(json.loads(line))) + "\n")
                sys.stdout.flush()
        return 0
    json.dump(run(json.loads(argv[0])), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
