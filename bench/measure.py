"""Measuring helpers shared by the scenarios: server processes' CPU and memory, the load
generator processes, percentiles and alternating rounds."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
from typing import Any

from .contenders import ROOT, Contender


class RssSampler(threading.Thread):
    """Peak resident memory of a server process while a measurement runs."""

    def __init__(self, pid: int | None, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.before = 0
        self._halt = threading.Event()

    def run(self) -> None:
        if self.pid is None:
            return
        import psutil

        process = psutil.Process(self.pid)
        self.before = process.memory_info().rss
        while not self._halt.is_set():
            try:
                self.peak = max(self.peak, process.memory_info().rss)
            except psutil.Error:
                return
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def run_module(module: str, spec: dict[str, Any], env: dict[str, str], timeout: float = 900) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", module, json.dumps(spec)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{module} {spec} failed:\n{done.stderr.decode(errors='replace')[-3000:]}")
    return json.loads(done.stdout)


class LoadGenerator:
    """The load generator process: one spec per line in, one result per line out."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.loadgen", "--serve"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, spec: dict[str, Any]) -> dict[str, Any]:
        self.send(spec)
        return self.receive()

    def send(self, spec: dict[str, Any]) -> None:
        """Start a measurement (:meth:`receive` waits for its result)."""
        assert self.process.stdin
        self._spec = spec
        self.process.stdin.write(json.dumps(spec) + "\n")
        self.process.stdin.flush()

    def receive(self) -> dict[str, Any]:
        assert self.process.stdout
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the load generator exited ({self.process.wait()}) running {self._spec}")
        return json.loads(line)

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def migrate(env: dict[str, str]) -> None:
    """Create the app's tables in the database ``env`` names."""
    done = subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--verbosity", "0", "--skip-checks"],
        cwd=ROOT,
        env=env,
        capture_output=True,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode(errors="replace"))


def cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    index = min(len(values) - 1, max(0, round(fraction * (len(values) - 1))))
    return values[index]


def summarize(runs: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    values = [run[key] for run in runs if run.get(key) is not None]
    if not values:
        return None
    median = statistics.median(values)
    return {
        "median": median,
        "min": min(values),
        "max": max(values),
        "spread": (max(values) - min(values)) / median if median else None,
        "n": len(values),
    }


def alternate(contenders: list[Contender], repeats: int, measure) -> dict[str, list[dict[str, Any]]]:
    """Run ``measure`` for every contender, ``repeats`` times, rotating the order each round."""
    runs: dict[str, list[dict[str, Any]]] = {c.key: [] for c in contenders}
    for round_index in range(repeats):
        shift = round_index % len(contenders)
        for contender in contenders[shift:] + contenders[:shift]:
            runs[contender.key].append(measure(contender))
    return runs


def prepare_postgres(url: str) -> str | None:
    """A fresh benchmark database; the reason when PostgreSQL cannot be used."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e .[postgres])"
    name = url.rsplit("/", 1)[-1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        return f"PostgreSQL unavailable: {exc}".strip()
    return None
