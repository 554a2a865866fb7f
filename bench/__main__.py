"""``python -m bench``: every contender, every target, one run; writes JSON and markdown.

    python -m bench            # the full suite (a few minutes on 2 cores)
    python -m bench --smoke    # seconds: same code paths, tiny sizes (CI)

Results go to ``bench/results/latest.json`` and ``latest.md`` (``smoke.*`` for a smoke
run, or ``--out PREFIX``). See docs/performance.md for what is measured and why.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from . import report
from .contenders import ROOT, Contender, all_contenders, bench_env

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/chatkit_bench"

PROFILES: dict[str, dict[str, Any]] = {
    "full": {
        "single": {"deltas": 5000, "repeats": 11},
        "concurrency": {"streams": 200, "deltas": 500, "repeats": 3},
        "queries": {"small": 10, "large": 10_000},
        "paging": {"small": 100, "large": 100_000, "iterations": 200},
        "widgets": {"iterations": 2000},
    },
    "smoke": {
        "single": {"deltas": 200, "repeats": 2},
        "concurrency": {"streams": 10, "deltas": 50, "repeats": 1},
        "queries": {"small": 10, "large": 200},
        "paging": {"small": 20, "large": 1000, "iterations": 10},
        "widgets": {"iterations": 100},
    },
}
SCENARIOS = ("single", "concurrency", "queries", "paging", "widgets")
#: events of a threads.create stream besides the deltas: stream options, thread
#: created, user message done, assistant message added, assistant message done
FIXED_EVENTS = 5


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
        cwd=ROOT, env=env, capture_output=True, timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{module} {spec} failed:\n{done.stderr.decode(errors='replace')[-3000:]}")
    return json.loads(done.stdout)


class LoadGenerator:
    """The load generator process: one spec per line in, one result per line out."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.loadgen", "--serve"],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )

    def run(self, spec: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps(spec) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the load generator exited ({self.process.wait()}) running {spec}")
        return json.loads(line)

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def load(loadgen: LoadGenerator, contender: Contender, streams: int, deltas: int) -> dict[str, Any]:
    """One measurement: the load generator process against one contender."""
    sampler = RssSampler(contender.pid)
    server_cpu = cpu_seconds(contender.pid)
    client_cpu = cpu_seconds(loadgen.process.pid)
    sampler.start()
    try:
        result = loadgen.run({"target": contender.target, "streams": streams, "deltas": deltas})
    finally:
        sampler.stop()
    server_cpu = cpu_seconds(contender.pid) - server_cpu if contender.pid else None
    client_cpu = cpu_seconds(loadgen.process.pid) - client_cpu
    expected = deltas + FIXED_EVENTS
    errors = []
    for stream in result["streams"]:
        if stream["ok"] and stream["events"] != expected:
            stream["ok"] = False
            stream["error"] = f"{stream['events']} events, expected {expected}"
        if not stream["ok"]:
            errors.append(stream["error"])
    ttfes = sorted(s["ttfe"] for s in result["streams"] if s["ttfe"] is not None)
    events = sum(s["events"] for s in result["streams"] if s["ok"])
    return {
        "wall": result["wall"],
        "ttfe_p50": percentile(ttfes, 0.50),
        "ttfe_p99": percentile(ttfes, 0.99),
        "events": events,
        "events_per_s": events / result["wall"] if result["wall"] else None,
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:3],
        "rss_before": sampler.before or None,
        "rss_peak": sampler.peak or None,
        # CPU time over wall time: 1.0 = one core busy the whole measurement
        "server_cpu": server_cpu / result["wall"] if server_cpu is not None else None,
        "loadgen_cpu": client_cpu / result["wall"],
    }


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


def streaming_scenarios(profile: dict[str, Any], wanted: set[str], data_dir: Path, log: Any) -> dict[str, Any]:
    env = bench_env(data_dir)
    migrate = subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--verbosity", "0", "--skip-checks"], cwd=ROOT, env=env, capture_output=True
    )
    if migrate.returncode != 0:
        raise RuntimeError(migrate.stderr.decode(errors="replace"))
    contenders = all_contenders()
    results: dict[str, Any] = {"contenders": {c.key: c.label for c in contenders}}
    loadgen = LoadGenerator(env)
    try:
        for contender in contenders:
            contender.start(env, data_dir)
        for contender in contenders:
            contender.wait_ready()
        log(f"servers up: {', '.join(f'{c.key}:{c.port}' for c in contenders if c.port)}")
        for contender in contenders:  # warm-up: imports, lazily built schemas, DB connections
            for streams, deltas in ((1, 50), (1, 50), (10, 20)):
                warm = load(loadgen, contender, streams, deltas)
                if warm["errors"]:
                    raise RuntimeError(f"{contender.key} failed its warm-up: {warm['error_samples']}")
        if "single" in wanted:
            spec = profile["single"]
            log(f"single stream: {spec['deltas']} deltas x {spec['repeats']} rounds")
            runs = alternate(contenders, spec["repeats"], lambda c: load(loadgen, c, 1, spec["deltas"]))
            results["single"] = {
                "spec": spec,
                "runs": runs,
                "summary": {
                    key: {"wall": summarize(r, "wall"), "ttfe": summarize(r, "ttfe_p50"),
                          "errors": sum(x["errors"] for x in r)}
                    for key, r in runs.items()
                },
            }
        if "concurrency" in wanted:
            spec = profile["concurrency"]
            log(f"concurrency: {spec['streams']} streams x {spec['deltas']} deltas x {spec['repeats']} rounds")
            runs = alternate(contenders, spec["repeats"], lambda c: load(loadgen, c, spec["streams"], spec["deltas"]))
            results["concurrency"] = {
                "spec": spec,
                "runs": runs,
                "summary": {
                    key: {
                        "wall": summarize(r, "wall"),
                        "events_per_s": summarize(r, "events_per_s"),
                        "ttfe_p50": summarize(r, "ttfe_p50"),
                        "ttfe_p99": summarize(r, "ttfe_p99"),
                        "rss_peak": summarize(r, "rss_peak"),
                        "server_cpu": summarize(r, "server_cpu"),
                        "loadgen_cpu": summarize(r, "loadgen_cpu"),
                        "errors": sum(x["errors"] for x in r),
                        "error_samples": sorted({e for x in r for e in x["error_samples"]})[:3],
                    }
                    for key, r in runs.items()
                },
            }
    finally:
        loadgen.close()
        for contender in contenders:
            contender.stop()
    return results


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


def database_scenarios(
    profile: dict[str, Any], wanted: set[str], data_dir: Path, postgres: str | None, log: Any
) -> dict[str, Any]:
    """Queries, paging and widgets, in one process per database."""
    results: dict[str, Any] = {}
    (data_dir / "dbcost").mkdir(exist_ok=True)
    sqlite_measures = {name: profile[name] for name in ("queries", "paging", "widgets") if name in wanted}
    if not sqlite_measures:
        return results
    if "widgets" in wanted and find_spec("django_chatkit.widgets") is None:
        sqlite_measures.pop("widgets")
        results["widgets"] = {"skipped": "django_chatkit.widgets is not available"}
    log(f"in-process on sqlite: {', '.join(sqlite_measures)}")
    found = run_module("bench.dbcost", {"measures": sqlite_measures}, bench_env(data_dir / "dbcost"))
    for name in ("queries", "paging"):
        if name in found:
            results[name] = {"sqlite": found[name]}
    if "widgets" in found:
        results["widgets"] = found["widgets"]
    pg_measures = {name: profile[name] for name in ("queries", "paging") if name in wanted}
    if pg_measures:
        problem = prepare_postgres(postgres) if postgres else "not requested"
        if problem:
            for name in pg_measures:
                results[name]["postgresql"] = {"skipped": problem}
        else:
            log(f"in-process on postgresql: {', '.join(pg_measures)}")
            found = run_module("bench.dbcost", {"measures": pg_measures}, bench_env(data_dir / "dbcost", postgres))
            for name in pg_measures:
                results[name]["postgresql"] = found[name]
    return results


def environment() -> dict[str, Any]:
    packages = {}
    for name in ("django", "openai-chatkit", "channels", "daphne", "uvicorn", "fastapi", "starlette", "aiohttp"):
        try:
            packages[name] = version(name)
        except Exception:
            packages[name] = None
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    try:
        import psutil

        cpus = psutil.cpu_count(logical=True)
    except ImportError:
        cpus = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": cpus,
        "packages": packages,
        "commit": commit.stdout.strip() or None,
        "sqlite_init": bench_env(Path(tempfile.gettempdir())).get("CHATKIT_BENCH_SQLITE_INIT",
                                                                  "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the suite works, in seconds")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, help="run only these scenarios")
    parser.add_argument("--out", help="results path prefix (default bench/results/latest, or smoke)")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="PostgreSQL URL of a database to (re)create")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL measurements")
    parser.add_argument("--repeats", type=int, help="rounds of each streaming scenario")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    profile_name = "smoke" if args.smoke else "full"
    profile = json.loads(json.dumps(PROFILES[profile_name]))
    if args.repeats:
        profile["single"]["repeats"] = profile["concurrency"]["repeats"] = args.repeats
    wanted = set(args.only or SCENARIOS)
    postgres = None if (args.no_postgres or args.smoke) else args.postgres
    prefix = Path(args.out) if args.out else RESULTS / ("smoke" if args.smoke else "latest")
    started = time.monotonic()

    def log(message: str) -> None:
        if not args.quiet:
            print(f"[bench {time.monotonic() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    command = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])
    data_dir = Path(tempfile.mkdtemp(prefix="chatkit-bench-"))
    try:
        results: dict[str, Any] = {
            "command": command.strip(),
            "profile": profile_name,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "environment": environment(),
        }
        if wanted & {"single", "concurrency"}:
            results.update(streaming_scenarios(profile, wanted, data_dir, log))
        results.update(database_scenarios(profile, wanted, data_dir, postgres, log))
        results["seconds"] = time.monotonic() - started
        results["targets"] = report.evaluate(results)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)

    prefix.parent.mkdir(parents=True, exist_ok=True)
    json_path = prefix.with_suffix(".json")
    md_path = prefix.with_suffix(".md")
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    md_path.write_text(report.markdown(results))
    log(f"wrote {json_path} and {md_path}")
    if not args.quiet:
        print(md_path.read_text())
    errors = sum(v.get("errors", 0) for part in ("single", "concurrency") for v in results.get(part, {}).get("summary", {}).values())
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
