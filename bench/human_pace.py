"""The human-pace scenario: many answers streamed at a model's pace, on one server process.

Every stream is one ``threads.create`` whose answer is ``deltas`` text deltas at ``rate``
a second (``bench:200@20``: ``asyncio.sleep(0.05)`` between deltas in the responder), the
streams started evenly over ``stagger`` seconds. The app runs with its own defaults for
checkpoints, heartbeats, live sync and database threads (``bench/settings.py`` names none
of them); the reference runs the same responder. Two legs: SQLite, then PostgreSQL with
its own, slower arrival (``pg_stagger``), each contender measured in alternating rounds.

Per measurement: the server's CPU seconds (user + system, ``psutil``) per 1,000 deltas
received; the gap between consecutive deltas as the client saw them arrive, beyond the
pace; time to first event; the server's RSS before its first load (idle, after the
warm-up) and at its peak, and (peak - idle) / streams; errors; streams cut short (fewer
deltas than asked).

``CHATKIT_BENCH_PROFILE=1`` (or ``python -m bench --profile``) adds one more run of each
contender per leg, not counted, under ``py-spy record``; the raw profile and a summary
(the busiest functions and packages) go to ``bench/results/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .contenders import ROOT, Contender, all_contenders, bench_env
from .measure import LoadGenerator, RssSampler, alternate, cpu_seconds, percentile, prepare_postgres, summarize

PROFILES: dict[str, dict[str, Any]] = {
    "full": {"streams": 500, "deltas": 200, "rate": 20, "stagger": 2.0, "pg_stagger": 5.0, "repeats": 2, "clients": 1},
    "smoke": {"streams": 20, "deltas": 20, "rate": 20, "stagger": 0.5, "pg_stagger": 0.5, "repeats": 1, "clients": 1},
}
CONTENDERS = ("daphne", "uvicorn", "uvicorn_consumer", "reference", "daphne_b")
#: ``CHATKIT_BENCH_HP_CONTENDERS=daphne,reference`` measures only those (quicker tries)
_ONLY = {c.strip() for c in os.environ.get("CHATKIT_BENCH_HP_CONTENDERS", "").split(",") if c.strip()}
APP_CONTENDERS = ("daphne", "uvicorn", "uvicorn_consumer")
#: seconds after the last stream ends before the server's CPU is read (its last writes)
SETTLE = 0.5
#: the figures of one measurement that are summarized over rounds
FIGURES = (
    "cpu_per_1k",
    "gap_p50",
    "gap_p99",
    "gap_max",
    "ttfe_p50",
    "ttfe_p99",
    "idle_rss",
    "idle_before",
    "peak_rss",
    "rss_per_stream",
    "wall",
    "server_cpu",
    "client_cpu",
)


def run(
    spec: dict[str, Any], data_dir: Path, postgres: str | None, log: Callable[[str], None], profile_to: Path | None
) -> dict[str, Any]:
    """Both legs of the scenario; ``postgres`` None skips the PostgreSQL leg.

    With ``profile_to`` (a path prefix), each server is profiled in one more run per leg:
    ``<profile_to>-profile-<leg>-<contender>.txt`` and ``...-summary.md``.
    """
    legs: dict[str, Any] = {}
    legs["sqlite"] = _leg("sqlite", spec, spec["stagger"], data_dir / "human-pace-sqlite", None, log, profile_to)
    problem = prepare_postgres(postgres) if postgres else "not requested"
    if problem:
        legs["postgresql"] = {"skipped": problem}
    else:
        legs["postgresql"] = _leg(
            "postgresql", spec, spec["pg_stagger"], data_dir / "human-pace-postgresql", postgres, log, profile_to
        )
    labels = {c.key: c.label for c in all_contenders() if c.key in CONTENDERS}
    return {"spec": spec, "contenders": labels, "legs": legs}


def _leg(
    name: str,
    spec: dict[str, Any],
    stagger: float,
    leg_dir: Path,
    database_url: str | None,
    log: Callable[[str], None],
    profile_to: Path | None,
) -> dict[str, Any]:
    leg_dir.mkdir(parents=True, exist_ok=True)
    env = bench_env(leg_dir, database_url)
    settings = _migrate_and_read_settings(env)
    contenders = [c for c in all_contenders() if c.key in CONTENDERS and (not _ONLY or c.key in _ONLY)]
    clients = [LoadGenerator(env) for _ in range(spec["clients"])]
    load = {key: spec[key] for key in ("streams", "deltas", "rate")} | {"stagger": stagger}
    try:
        for contender in contenders:
            contender.start(env, leg_dir)
        for contender in contenders:
            contender.wait_ready()
        for contender in contenders:  # warm-up: imports, lazily built schemas, connections
            warm = _measure(contender, clients, {"streams": 20, "deltas": 10, "rate": 100, "stagger": 0.2})
            if warm["errors"]:
                raise RuntimeError(f"{contender.key} failed its warm-up ({name}): {warm['error_samples']}")
        log(
            f"human pace ({name}): {load['streams']} streams x {load['deltas']} deltas at {load['rate']}/s, "
            f"started over {stagger:g} s, x {spec['repeats']} rounds"
        )

        def measure(contender: Contender) -> dict[str, Any]:
            f = _measure(contender, clients, load)
            log(
                f"  {contender.key}: {f['wall']:.1f} s, {_fmt(f['cpu_per_1k'], '{:.3f}')} CPU s / 1k tokens, "
                f"gap p99 {_fmt(_ms(f['gap_p99']), '{:+.0f}')} ms, first event p99 {_fmt(_ms(f['ttfe_p99']), '{:.0f}')} ms, "
                f"{f['errors']} errors, {f['cut_short']} cut short"
            )
            return f

        runs = alternate(contenders, spec["repeats"], measure)
        profiles = {}
        if profile_to is not None:
            for contender in contenders:
                log(f"human pace ({name}): profiling {contender.key}")
                path = profile_to.with_name(f"{profile_to.name}-profile-{name}-{contender.key}")
                profiles[contender.key] = _profiled(contender, clients, load, path)
    finally:
        for client in clients:
            client.close()
        for contender in contenders:
            contender.stop()
    result = {"stagger": stagger, "settings": settings, "runs": runs, "summary": summarize_leg(runs)}
    if profiles:
        result["profiles"] = profiles
    return result


def summarize_leg(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians over rounds. Memory is counted from the first round's idle RSS (after the
    warm-up): a later round starts with the memory the previous one left allocated, and
    its (peak - idle) would only show what was not reused."""
    summary = {}
    for key, rounds in runs.items():
        idle = rounds[0]["idle_before"] if rounds else None
        for r in rounds:
            r["idle_rss"] = idle
            r["rss_per_stream"] = (
                (r["peak_rss"] - idle) / r["streams"] if idle and r["peak_rss"] and r["streams"] else None
            )
        summary[key] = {figure: summarize(rounds, figure) for figure in FIGURES}
        summary[key]["errors"] = sum(r["errors"] for r in rounds)
        summary[key]["cut_short"] = sum(r["cut_short"] for r in rounds)
        summary[key]["error_samples"] = sorted({e for r in rounds for e in r["error_samples"]})[:3]
    return summary


def _migrate_and_read_settings(env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.effective", "--migrate"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.effective failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)


def _measure(contender: Contender, clients: list[LoadGenerator], load: dict[str, Any]) -> dict[str, Any]:
    """One human-pace load against one contender, split over the load generator processes."""
    time.sleep(0.5)  # let the previous measurement's last writes end
    sampler = RssSampler(contender.pid, interval=0.05)
    sampler.start()
    server_cpu = cpu_seconds(contender.pid)
    client_cpu = [cpu_seconds(client.process.pid) for client in clients]
    start_at = time.time() + 0.2
    try:
        for part, client in enumerate(clients):
            client.send({"target": contender.target, **load, "part": part, "parts": len(clients), "start_at": start_at})
        parts = [client.receive() for client in clients]
        time.sleep(SETTLE)
    finally:
        sampler.stop()
    server_cpu = cpu_seconds(contender.pid) - server_cpu
    wall = max(part["wall"] for part in parts)
    client_cpu = max(cpu_seconds(c.process.pid) - before for c, before in zip(clients, client_cpu))
    streams = [stream for part in parts for stream in part["streams"]]
    return _figures(streams, load, wall, server_cpu, client_cpu, sampler)


def _figures(
    streams: list[dict[str, Any]],
    load: dict[str, Any],
    wall: float,
    server_cpu: float,
    client_cpu: float,
    sampler: RssSampler,
) -> dict[str, Any]:
    pace = 1000 / load["rate"]
    gaps = sorted(gap - pace for stream in streams for gap in stream["gaps"])
    ttfes = sorted(stream["ttfe"] for stream in streams if stream["ttfe"] is not None)
    tokens = sum(stream["deltas"] for stream in streams)
    errors = [stream["error"] for stream in streams if not stream["ok"]]
    idle, peak = sampler.before or None, sampler.peak or None
    return {
        "streams": len(streams),
        "tokens": tokens,
        "cpu_per_1k": server_cpu / tokens * 1000 if tokens else None,
        "gap_p50": _seconds(percentile(gaps, 0.50)),
        "gap_p99": _seconds(percentile(gaps, 0.99)),
        "gap_max": _seconds(gaps[-1] if gaps else None),
        "ttfe_p50": percentile(ttfes, 0.50),
        "ttfe_p99": percentile(ttfes, 0.99),
        # the RSS just before this load; summarize_leg() sets idle_rss and rss_per_stream
        "idle_before": idle,
        "peak_rss": peak,
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:3],
        "cut_short": sum(1 for stream in streams if stream["deltas"] < load["deltas"]),
        "wall": wall,
        # CPU seconds per wall second (1.0 = one core busy throughout)
        "server_cpu": server_cpu / wall if wall else None,
        "client_cpu": client_cpu / wall if wall else None,
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _seconds(milliseconds: float | None) -> float | None:
    return None if milliseconds is None else milliseconds / 1000


def profiling_requested() -> bool:
    return os.environ.get("CHATKIT_BENCH_PROFILE", "").strip().lower() not in ("", "0", "false", "no")


def _py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def _profiled(contender: Contender, clients: list[LoadGenerator], load: dict[str, Any], prefix: Path) -> dict[str, Any]:
    """One more load under ``py-spy record`` (not counted in the figures), and its summary."""
    py_spy = _py_spy()
    if py_spy is None:
        return {"skipped": "py-spy is not installed (pip install py-spy)"}
    prefix.parent.mkdir(parents=True, exist_ok=True)
    raw = prefix.with_suffix(".txt")
    recorder = subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(contender.pid),
            "--rate",
            "100",
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(raw),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(1.0)  # py-spy attaches
    try:
        figures = _measure(contender, clients, load)
    finally:
        recorder.send_signal(signal.SIGINT)
        try:
            _, stderr = recorder.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            recorder.kill()
            _, stderr = recorder.communicate()
    if not raw.exists():
        return {"skipped": f"py-spy wrote no profile: {stderr.decode(errors='replace')[-500:]}"}
    summary = summarize_profile(raw.read_text())
    text = prefix.with_name(prefix.name + "-summary.md")
    text.write_text(profile_markdown(contender.key, summary, figures))
    return {"raw": str(raw), "summary_path": str(text), "cpu_per_1k": figures["cpu_per_1k"], **summary}


_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")
#: the packages whose functions the inclusive list shows (the servers' loops, middleware
#: and threads are at the root of every sample and say nothing)
_INCLUSIVE_PACKAGES = ("django_chatkit", "chatkit", "bench")
_WORKER = "_worker (concurrent/futures/thread.py)"
#: the frames under which an executor thread runs the function it was given
_CALL_FRAMES = ("_WorkItem.run", "SyncToAsync.__call__.<locals>.func.<locals>.run_child")


def summarize_profile(raw: str, top: int = 25) -> dict[str, Any]:
    """The busiest functions (own and inclusive samples) and packages of py-spy's raw output."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    #: what the executor threads (the database threads, sync_to_async) run
    worker: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [_frame_name(frame) for frame in stack.split(";") if frame]
        if not frames:
            continue
        own[frames[-1]] += samples
        packages[_package(frames[-1])] += samples
        for frame in set(frames):
            if _package(frame) in _INCLUSIVE_PACKAGES:
                inclusive[frame] += samples
        if _WORKER in frames:
            threads["executor threads (database work)"] += samples
            starts = [i for i, frame in enumerate(frames) if frame.startswith(_CALL_FRAMES)]
            called = frames[starts[-1] + 1] if starts and starts[-1] + 1 < len(frames) else "(the executor itself)"
            worker[called] += samples
        else:
            threads["event loop thread"] += samples

    def share(counter: Counter[str]) -> list[list[Any]]:
        return [[name, round(100 * n / total, 1)] for name, n in counter.most_common(top)] if total else []

    return {
        "samples": total,
        "threads": share(threads),
        "own": share(own),
        "inclusive": share(inclusive),
        "packages": share(packages),
        "worker": share(worker),
    }


def _frame_name(frame: str) -> str:
    found = _FRAME.match(frame.strip())
    if not found:
        return frame.strip()
    return f"{found['function']} ({_short_path(found['file'])})"


def _short_path(path: str) -> str:
    for marker in ("site-packages/", "lib/python3", "/work/"):
        if marker in path:
            tail = path.split(marker, 1)[1]
            return tail.split("/", 1)[1] if marker == "lib/python3" and "/" in tail else tail
    return path


def _package(name: str) -> str:
    path = name.rsplit("(", 1)[-1].rstrip(")")
    head = path.split("/", 1)[0]
    if head.endswith(".py"):
        head = head[:-3]
    if "django_chatkit" in path:
        return "django_chatkit"
    return head or "?"


def profile_markdown(key: str, summary: dict[str, Any], figures: dict[str, Any]) -> str:
    lines = [
        f"# py-spy profile of {key} under the human-pace load",
        "",
        f"{summary['samples']} samples at 100 Hz of the server's busy threads; CPU per 1,000 tokens in the "
        f"profiled run: {_fmt(figures.get('cpu_per_1k'), '{:.3f}')} s. Percentages are of all samples.",
        "",
        "## Threads",
        "",
        "| thread | % |",
        "|---|---|",
        *(f"| {name} | {pct} |" for name, pct in summary["threads"]),
        "",
        "## Own time, by package",
        "",
        "| package | % of samples |",
        "|---|---|",
        *(f"| {name} | {pct} |" for name, pct in summary["packages"]),
        "",
        "## Own time, by function",
        "",
        "| function | % |",
        "|---|---|",
        *(f"| `{name}` | {pct} |" for name, pct in summary["own"]),
        "",
        "## Inclusive time of the app's, the SDK's and the bench's functions (with what they call)",
        "",
        "| function | % |",
        "|---|---|",
        *(f"| `{name}` | {pct} |" for name, pct in summary["inclusive"]),
        "",
        "## What the executor threads run (the call made through sync_to_async)",
        "",
        "| call | % |",
        "|---|---|",
        *(f"| `{name}` | {pct} |" for name, pct in summary["worker"]),
        "",
    ]
    return "\n".join(lines)


def _fmt(value: float | None, fmt: str) -> str:
    return "–" if value is None else fmt.format(value)


# -- targets and report ----------------------------------------------------------------


def evaluate(found: dict[str, Any], make_target: Callable[..., dict[str, Any]]) -> list[dict[str, Any]]:
    """Target 6, per leg and app contender, as ratios to the reference of the same run."""
    targets: list[dict[str, Any]] = []
    for leg, result in found.get("legs", {}).items():
        if "skipped" in result:
            targets.append(make_target(6, f"human pace ({leg})", "app", None, "–", None, result["skipped"]))
            continue
        summary = result["summary"]
        ref = summary["reference"]
        for key in APP_CONTENDERS:
            if key not in summary:
                continue
            app = summary[key]
            cpu, ref_cpu = _med(app["cpu_per_1k"]), _med(ref["cpu_per_1k"])
            ratio = cpu / ref_cpu if cpu and ref_cpu else None
            targets.append(
                make_target(
                    6,
                    f"human pace ({leg}): server CPU per 1,000 tokens vs reference",
                    key,
                    ratio,
                    "<= 1.0x",
                    ratio is not None and ratio <= 1.0,
                    f"{cpu:.3f} vs {ref_cpu:.3f} s" if ratio is not None else "",
                )
            )
            gap, ref_gap = _med(app["gap_p99"]), _med(ref["gap_p99"])
            diff = (gap - ref_gap) * 1000 if gap is not None and ref_gap is not None else None
            targets.append(
                make_target(
                    6,
                    f"human pace ({leg}): p99 gap beyond the pace minus reference's (ms)",
                    key,
                    diff,
                    "<= 10 ms",
                    diff is not None and diff <= 10,
                    _pair_ms(gap, ref_gap),
                )
            )
            errors = app["errors"] + app["cut_short"]
            targets.append(
                make_target(
                    6,
                    f"human pace ({leg}): errors + streams cut short",
                    key,
                    errors,
                    "0",
                    errors == 0,
                    "; ".join(app["error_samples"]),
                )
            )
            ttfe, ref_ttfe = _med(app["ttfe_p99"]), _med(ref["ttfe_p99"])
            diff = (ttfe - ref_ttfe) * 1000 if ttfe is not None and ref_ttfe is not None else None
            targets.append(
                make_target(
                    6,
                    f"human pace ({leg}): first event p99 minus reference's (ms)",
                    key,
                    diff,
                    "<= 50 ms",
                    diff is not None and diff <= 50,
                    _pair_ms(ttfe, ref_ttfe),
                )
            )
            rss, ref_rss = _med(app["rss_per_stream"]), _med(ref["rss_per_stream"])
            ratio = rss / ref_rss if rss and ref_rss else None
            targets.append(
                make_target(
                    6,
                    f"human pace ({leg}): RSS per open stream vs reference",
                    key,
                    ratio,
                    "<= 1.2x",
                    ratio is not None and ratio <= 1.2,
                    f"{rss / 1024:.0f} vs {ref_rss / 1024:.0f} KiB" if ratio is not None else "",
                )
            )
            idle, ref_idle = _med(app["idle_rss"]), _med(ref["idle_rss"])
            targets.append(
                make_target(
                    6,
                    f"human pace ({leg}): idle RSS (MiB)",
                    key,
                    round(idle / 2**20) if idle else None,
                    "reported",
                    None,
                    f"reference {ref_idle / 2**20:.0f} MiB" if ref_idle else "",
                )
            )
    return targets


def _med(summary: dict[str, Any] | None) -> float | None:
    return summary["median"] if summary else None


def _pair_ms(app: float | None, ref: float | None) -> str:
    if app is None or ref is None:
        return ""
    return f"{app * 1000:+.1f} vs {ref * 1000:+.1f} ms"


def markdown(found: dict[str, Any], span: Callable[..., str]) -> list[str]:
    spec = found["spec"]
    labels = found.get("contenders", {})
    lines = [
        f"## 6. Human pace: {spec['streams']} streams of {spec['deltas']} deltas at {spec['rate']:g}/s "
        f"({spec['repeats']} rounds)",
        "",
    ]
    for leg, result in found["legs"].items():
        if "skipped" in result:
            lines += [f"{leg}: skipped ({result['skipped']})", ""]
            continue
        settings = result["settings"]
        chatkit = ", ".join(f"{k}={v}" for k, v in settings["chatkit"].items())
        database = settings["database"]
        lines += [
            f"### {leg}: streams started over {result['stagger']:g} s",
            "",
            f"App settings: {chatkit} (app defaults: {', '.join(settings['app_defaults']) or 'none'}); "
            f"database {database['engine']}, CONN_MAX_AGE={database['conn_max_age']}, "
            f"OPTIONS={json.dumps(database['options'])}; {settings['channel_layer']}.",
            "",
            "| contender | CPU s / 1k tokens | gap beyond pace p50 / p99 / max ms | first event p50 / p99 ms "
            "| idle RSS MiB | RSS / open stream KiB | errors | cut short | wall s | server CPU | client CPU |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for key, s in result["summary"].items():
            lines.append(
                f"| {labels.get(key, key)} | {span(s['cpu_per_1k'], fmt='{:.3f}')} "
                f"| {span(s['gap_p50'], 1000, '{:.1f}')} / {span(s['gap_p99'], 1000, '{:.1f}')} / "
                f"{span(s['gap_max'], 1000, '{:.0f}')} "
                f"| {span(s['ttfe_p50'], 1000, '{:.0f}')} / {span(s['ttfe_p99'], 1000, '{:.0f}')} "
                f"| {span(s['idle_rss'], 1 / 2**20)} | {span(s['rss_per_stream'], 1 / 1024)} "
                f"| {s['errors']} | {s['cut_short']} | {span(s['wall'], fmt='{:.1f}')} "
                f"| {span(s['server_cpu'], fmt='{:.2f}')} | {span(s['client_cpu'], fmt='{:.2f}')} |"
            )
        lines.append("")
        for key, prof in (result.get("profiles") or {}).items():
            if "skipped" in prof:
                lines.append(f"Profile of {key}: skipped ({prof['skipped']})")
                continue
            top = ", ".join(f"{name} {pct}%" for name, pct in prof["packages"][:6])
            lines.append(f"Profile of {key}: `{Path(prof['summary_path']).name}` (own time by package: {top})")
        if result.get("profiles"):
            lines.append("")
    lines += [
        "Gap: time between consecutive deltas of a stream as the client saw them arrive, minus the "
        f"pace ({1000 / spec['rate']:g} ms), over all gaps of all streams. CPU: seconds of the server "
        "process (user + system) per 1,000 deltas delivered; server/client CPU columns: CPU seconds per "
        "wall second. RSS per open stream: (peak RSS - idle RSS) / streams, idle RSS being the server's "
        "after the warm-up, before its first round.",
        "",
    ]
    return lines


def main(argv: list[str]) -> int:
    """``python -m bench.human_pace RAW...``: print the summary of py-spy raw profiles."""
    for raw in argv:
        print(profile_markdown(Path(raw).stem, summarize_profile(Path(raw).read_text()), {}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
