"""``python -m bench``: every contender, every target, one run; writes JSON and markdown.

    python -m bench                    # the full suite (5-10 minutes on 2 cores)
    python -m bench --smoke            # seconds: same code paths, tiny sizes (CI)
    python -m bench --only human_pace  # one scenario (~3 minutes for this one)

Results go to ``bench/results/latest.json`` and ``latest.md`` (``smoke.*`` for a smoke
run, ``<scenarios>.*`` with ``--only``, e.g. ``human_pace.md``, or ``--out PREFIX``).
See docs/performance.md for what is measured and why.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from . import human_pace, report
from .contenders import ROOT, Contender, all_contenders, bench_env
from .measure import (
    LoadGenerator,
    RssSampler,
    alternate,
    cpu_seconds,
    migrate,
    percentile,
    prepare_postgres,
    run_module,
    summarize,
)

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/chatkit_bench"

PROFILES: dict[str, dict[str, Any]] = {
    "full": {
        "single": {"deltas": 5000, "repeats": 11},
        "concurrency": {"streams": 200, "deltas": 500, "repeats": 3},
        "queries": {"small": 10, "large": 10_000},
        "paging": {"small": 100, "large": 100_000, "iterations": 200},
        "widgets": {"iterations": 2000},
        "human_pace": human_pace.PROFILES["full"],
    },
    "smoke": {
        "single": {"deltas": 200, "repeats": 2},
        "concurrency": {"streams": 10, "deltas": 50, "repeats": 1},
        "queries": {"small": 10, "large": 200},
        "paging": {"small": 20, "large": 1000, "iterations": 10},
        "widgets": {"iterations": 100},
        "human_pace": human_pace.PROFILES["smoke"],
    },
}
SCENARIOS = ("single", "concurrency", "queries", "paging", "widgets", "human_pace")
#: events of a threads.create stream besides the deltas: stream options, thread
#: created, user message done, assistant message added, assistant message done
FIXED_EVENTS = 5


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


def streaming_scenarios(profile: dict[str, Any], wanted: set[str], data_dir: Path, log: Any) -> dict[str, Any]:
    env = bench_env(data_dir)
    migrate(env)
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
                    key: {
                        "wall": summarize(r, "wall"),
                        "ttfe": summarize(r, "ttfe_p50"),
                        "errors": sum(x["errors"] for x in r),
                    }
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
        "sqlite_init": bench_env(Path(tempfile.gettempdir())).get(
            "CHATKIT_BENCH_SQLITE_INIT", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the suite works, in seconds")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, help="run only these scenarios")
    parser.add_argument("--out", help="results path prefix (default bench/results/latest, or smoke)")
    parser.add_argument(
        "--postgres",
        help=f"PostgreSQL URL of a database to (re)create (default {DEFAULT_POSTGRES}; "
        "a smoke run uses PostgreSQL only when given one)",
    )
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL measurements")
    parser.add_argument("--repeats", type=int, help="rounds of each streaming scenario")
    parser.add_argument("--clients", type=int, help="load generator processes of the human-pace scenario (default 1)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="human pace: one more run of each server under py-spy, profiles to bench/results/ "
        "(also CHATKIT_BENCH_PROFILE=1)",
    )
    parser.add_argument(
        "--pg-database-threads",
        type=int,
        metavar="N",
        help='PostgreSQL contenders: CHATKIT["DATABASE_THREADS"] = N (default: the app\'s)',
    )
    parser.add_argument(
        "--pg-pool",
        action="store_true",
        help='PostgreSQL contenders: Django\'s psycopg pool, DATABASES OPTIONS {"pool": true}',
    )
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    profile_name = "smoke" if args.smoke else "full"
    profile = json.loads(json.dumps(PROFILES[profile_name]))
    if args.repeats:
        profile["single"]["repeats"] = profile["concurrency"]["repeats"] = args.repeats
        profile["human_pace"]["repeats"] = args.repeats
    if args.clients:
        profile["human_pace"]["clients"] = args.clients
    _postgres_knobs(args)
    wanted = set(args.only or SCENARIOS)
    postgres = None if args.no_postgres else (args.postgres or (None if args.smoke else DEFAULT_POSTGRES))
    if args.out:
        prefix = Path(args.out)
    elif args.only:
        prefix = RESULTS / (("smoke-" if args.smoke else "") + "-".join(s for s in SCENARIOS if s in wanted))
    else:
        prefix = RESULTS / ("smoke" if args.smoke else "latest")
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
        if "human_pace" in wanted:
            profile_to = prefix if (args.profile or human_pace.profiling_requested()) else None
            results["human_pace"] = human_pace.run(profile["human_pace"], data_dir, postgres, log, profile_to)
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
    errors = sum(
        v.get("errors", 0)
        for part in ("single", "concurrency")
        for v in results.get(part, {}).get("summary", {}).values()
    )
    errors += sum(
        s["errors"] + s["cut_short"]
        for leg in results.get("human_pace", {}).get("legs", {}).values()
        for s in leg.get("summary", {}).values()
    )
    return 1 if errors else 0


def _postgres_knobs(args: argparse.Namespace) -> None:
    """The PostgreSQL knobs of the command line, as the environment bench/settings.py reads."""
    if args.pg_database_threads is not None:
        chatkit = json.loads(os.environ.get("CHATKIT_BENCH_PG_CHATKIT") or "{}")
        chatkit["DATABASE_THREADS"] = args.pg_database_threads
        os.environ["CHATKIT_BENCH_PG_CHATKIT"] = json.dumps(chatkit)
    if args.pg_pool:
        options = json.loads(os.environ.get("CHATKIT_BENCH_PG_OPTIONS") or "{}")
        options["pool"] = True
        os.environ["CHATKIT_BENCH_PG_OPTIONS"] = json.dumps(options)


if __name__ == "__main__":
    sys.exit(main())
