"""Starting and stopping the contenders' server processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Contender:
    key: str
    label: str
    #: the command line (``{port}`` is filled in), or None for the in-process floor
    command: list[str] | None
    path: str = "/chatkit/"
    process: subprocess.Popen[bytes] | None = None
    port: int = 0
    log: Any = field(default=None, repr=False)
    #: another checkout of the project to run the server from (an A/B comparison)
    root: Path | None = None

    @property
    def in_process(self) -> bool:
        return self.command is None

    @property
    def target(self) -> str:
        return "floor" if self.in_process else f"http://127.0.0.1:{self.port}{self.path}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self, env: dict[str, str], log_dir: Path) -> None:
        """Launch the server (see :meth:`wait_ready`)."""
        if self.command is None:
            return
        self.port = free_port()
        argv = [part.format(port=self.port) for part in self.command]
        self._log_path = log_dir / f"{self.key}.log"
        self.log = open(self._log_path, "wb")
        if self.root is not None:
            env = {**env, "PYTHONPATH": str(self.root) + os.pathsep + env.get("PYTHONPATH", "")}
        cwd = self.root or ROOT
        self.process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self) -> None:
        if self.process is not None:
            wait_for_port(self.port, self.process, self._log_path)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log is not None:
            self.log.close()


def python() -> str:
    return sys.executable


def _uvicorn(py: str, app: str) -> list[str]:
    """The command line of a uvicorn server for ``app``, quiet as the benchmark wants it."""
    return [
        py,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--log-level",
        "warning",
        "--no-access-log",
    ]


def all_contenders() -> list[Contender]:
    py = python()
    return [
        Contender(
            "daphne",
            "django_chatkit: daphne + Channels consumer",
            [py, "-m", "daphne", "-b", "127.0.0.1", "-p", "{port}", "bench.asgi:channels_application"],
        ),
        Contender("uvicorn", "django_chatkit: async view under uvicorn", _uvicorn(py, "bench.asgi:django_application")),
        Contender(
            "uvicorn_consumer",
            "django_chatkit: Channels consumer under uvicorn",
            _uvicorn(py, "bench.asgi:channels_application"),
        ),
        Contender(
            "reference",
            "reference: SDK + FastAPI + uvicorn, in-memory store",
            _uvicorn(py, "bench.reference:app"),
            path="/chatkit",
        ),
        Contender("floor", "floor: server.process in-process, in-memory store", None),
        *_compared(py),
    ]


def _compared(py: str) -> list[Contender]:
    """``CHATKIT_BENCH_COMPARE=<checkout>``: daphne served from that other checkout of the
    project too (key ``daphne_b``), to compare two versions side by side in one run."""
    other = os.environ.get("CHATKIT_BENCH_COMPARE", "").strip()
    if not other:
        return []
    return [
        Contender(
            "daphne_b",
            f"django_chatkit from {other}: daphne + Channels consumer",
            [py, "-m", "daphne", "-b", "127.0.0.1", "-p", "{port}", "bench.asgi:channels_application"],
            root=Path(other),
        )
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the server exited with {process.returncode}:\n{log.read_text(errors='replace')[-2000:]}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not listen on port {port} within {timeout} s")


def bench_env(data_dir: Path, database_url: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    env["CHATKIT_BENCH_DIR"] = str(data_dir)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("CHATKIT_BENCH_DATABASE_URL", None)
    if database_url:
        env["CHATKIT_BENCH_DATABASE_URL"] = database_url
    return env
