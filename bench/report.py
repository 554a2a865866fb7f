"""Target evaluation and the markdown table of a benchmark run."""

from __future__ import annotations

from typing import Any

from . import human_pace

APP_CONTENDERS = ("daphne", "uvicorn")


def _median(summary: dict[str, Any] | None) -> float | None:
    return summary["median"] if summary else None


def _target(
    number: int, what: str, contender: str, measured: float | None, limit: str, met: bool | None, detail: str = ""
) -> dict[str, Any]:
    return {
        "target": number,
        "what": what,
        "contender": contender,
        "measured": measured,
        "limit": limit,
        "met": met,
        "detail": detail,
    }


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = []
    single = results.get("single", {}).get("summary")
    if single:
        ref_wall = _median(single["reference"]["wall"])
        ref_ttfe = _median(single["reference"]["ttfe"])
        for key in APP_CONTENDERS:
            wall = _median(single[key]["wall"])
            ratio = wall / ref_wall if wall and ref_wall else None
            targets.append(
                _target(
                    1,
                    "wall time vs reference",
                    key,
                    ratio,
                    "<= 1.0x",
                    ratio is not None and ratio <= 1.0 and not single[key]["errors"],
                )
            )
            ttfe = _median(single[key]["ttfe"])
            gap = (ttfe - ref_ttfe) * 1000 if ttfe is not None and ref_ttfe is not None else None
            targets.append(
                _target(1, "first event minus reference's (ms)", key, gap, "<= 5 ms", gap is not None and gap <= 5)
            )
    concurrency = results.get("concurrency", {}).get("summary")
    if concurrency:
        ref_rate = _median(concurrency["reference"]["events_per_s"])
        for key in APP_CONTENDERS:
            errors = concurrency[key]["errors"]
            targets.append(_target(2, "errors", key, errors, "0", errors == 0))
            rate = _median(concurrency[key]["events_per_s"])
            ratio = rate / ref_rate if rate and ref_rate else None
            targets.append(
                _target(2, "aggregate events/s vs reference", key, ratio, ">= 1.0x", ratio is not None and ratio >= 1.0)
            )
    for vendor, found in (results.get("queries") or {}).items():
        if "skipped" in found:
            continue
        small, large = found["small"], found["large"]
        worst = max(small["queries"] + large["queries"])
        constant = set(small["queries"]) == set(large["queries"]) and len(set(small["queries"])) == 1
        data = [q for q in large["sql"] if not _is_transaction_control(q)]
        detail = (
            f"request through the transport core: {small['items']} items {small['queries']}, "
            f"{large['items']} items {large['queries']} ({len(large['sql']) - len(data)} of them "
            f"BEGIN/COMMIT/SAVEPOINT); bare server.process: {large.get('process_queries')}"
        )
        targets.append(
            _target(
                3,
                f"queries per add_user_message turn ({vendor})",
                "app",
                worst,
                "<= 8, constant",
                worst <= 8 and constant,
                detail,
            )
        )
    for vendor, found in (results.get("paging") or {}).items():
        if "skipped" in found:
            targets.append(
                _target(
                    4,
                    f"items.list page, large vs small thread ({vendor})",
                    "app",
                    None,
                    "<= 1.5x",
                    None,
                    found["skipped"],
                )
            )
            continue
        timings = found["timings"]
        for page in ("newest", "middle"):
            ratio = timings[f"large_{page}"]["median"] / timings[f"small_{page}"]["median"]
            detail = (
                f"{found['items']['large']} vs {found['items']['small']} items, {page} page: "
                f"{timings[f'large_{page}']['median'] * 1000:.2f} vs {timings[f'small_{page}']['median'] * 1000:.2f} ms"
            )
            targets.append(
                _target(
                    4,
                    f"items.list {page} page, large vs small thread ({vendor})",
                    "app",
                    ratio,
                    "<= 1.5x",
                    ratio <= 1.5,
                    detail,
                )
            )
    widgets = results.get("widgets")
    if widgets and "skipped" not in widgets:
        targets.append(
            _target(
                5, "queries per warm render_widget", "app", widgets["warm_queries"], "0", widgets["warm_queries"] == 0
            )
        )
        paired = widgets.get("paired_ratio")
        ratio = (
            paired["median"]
            if paired
            else widgets["timings"]["render_widget"]["median"] / widgets["timings"]["sdk_build"]["median"]
        )
        targets.append(
            _target(
                5,
                "render_widget vs SDK WidgetTemplate.build",
                "app",
                ratio,
                "<= 1.5x",
                ratio <= 1.5,
                "same widget out" if widgets["same_widget"] else "the two widgets differ",
            )
        )
    if results.get("human_pace"):
        targets += human_pace.evaluate(results["human_pace"], _target)
    return targets


def _is_transaction_control(sql: str) -> bool:
    head = sql.lstrip().split(" ", 1)[0].upper()
    return head in {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value * 1000:.1f}"


def _span_ms(summary: dict[str, Any] | None) -> str:
    if not summary:
        return "–"
    return f"{summary['median'] * 1000:.1f} ({summary['min'] * 1000:.1f}–{summary['max'] * 1000:.1f})"


def _span(summary: dict[str, Any] | None, scale: float = 1.0, fmt: str = "{:.0f}") -> str:
    if not summary:
        return "–"
    med, lo, hi = (fmt.format(summary[k] * scale) for k in ("median", "min", "max"))
    return f"{med} ({lo}–{hi})"


def _measured(target: dict[str, Any]) -> str:
    value = target["measured"]
    if value is None:
        return "–"
    if isinstance(value, int):
        return str(value)
    if "ms" in target["limit"]:
        return f"{value:+.2f} ms"
    return f"{value:.2f}x"


def markdown(results: dict[str, Any]) -> str:
    env = results["environment"]
    lines = [
        f"# Benchmark results ({results['profile']} profile)",
        "",
        f"Command: `{results['command']}` — {results['started_at']}, {results['seconds']:.0f} s, "
        f"commit {env['commit']}, Python {env['python']}, {env['cpus']} CPUs.",
        "Medians of alternating rounds, with (min–max) across rounds.",
        "",
    ]
    labels = results.get("contenders", {})
    single = results.get("single")
    if single:
        spec = single["spec"]
        lines += [
            f"## 1. One client, one stream of {spec['deltas']} deltas ({spec['repeats']} rounds)",
            "",
            "| contender | wall ms | first event ms | errors |",
            "|---|---|---|---|",
        ]
        for key, summary in single["summary"].items():
            lines.append(
                f"| {labels.get(key, key)} | {_span_ms(summary['wall'])} | {_span_ms(summary['ttfe'])} "
                f"| {summary['errors']} |"
            )
        lines.append("")
    concurrency = results.get("concurrency")
    if concurrency:
        spec = concurrency["spec"]
        lines += [
            f"## 2. {spec['streams']} simultaneous streams of {spec['deltas']} deltas ({spec['repeats']} rounds)",
            "",
            "| contender | events/s | wall s | first event p50 ms | p99 ms | peak RSS MiB | server CPU | load CPU | errors |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for key, s in concurrency["summary"].items():
            rss = _span(s["rss_peak"], 1 / 2**20) if s["rss_peak"] else "(in the load process)"
            lines.append(
                f"| {labels.get(key, key)} | {_span(s['events_per_s'])} | {_span(s['wall'], fmt='{:.2f}')} "
                f"| {_span_ms(s['ttfe_p50'])} | {_span_ms(s['ttfe_p99'])} | {rss} "
                f"| {_span(s.get('server_cpu'), fmt='{:.2f}')} | {_span(s.get('loadgen_cpu'), fmt='{:.2f}')} | {s['errors']} |"
            )
        lines += [
            "",
            "CPU columns: CPU seconds per wall second of the server process and of the load "
            "generator (1.00 = one core busy throughout; the floor runs inside the load generator).",
            "",
        ]
    queries = results.get("queries")
    if queries:
        lines += [
            "## 3. Queries per `threads.add_user_message` turn (one-message answer)",
            "",
            "| database | thread items | statements per request (3 turns) | of which bare `server.process` |",
            "|---|---|---|---|",
        ]
        for vendor, found in queries.items():
            if "skipped" in found:
                lines.append(f"| {vendor} | skipped: {found['skipped']} | | |")
                continue
            for size in ("small", "large"):
                lines.append(
                    f"| {vendor} | {found[size]['items']} | {found[size]['queries']} "
                    f"| {found[size].get('process_queries')} |"
                )
        lines.append("")
    paging = results.get("paging")
    if paging:
        lines += [
            "## 4. `items.list` page of 20 (in-process, `server.process`)",
            "",
            "| database | thread items | newest page ms | middle page ms |",
            "|---|---|---|---|",
        ]
        for vendor, found in paging.items():
            if "skipped" in found:
                lines.append(f"| {vendor} | skipped: {found['skipped']} | | |")
                continue
            for size in ("small", "large"):
                t = found["timings"]
                lines.append(
                    f"| {vendor} | {found['items'][size]} | {_span_ms(t[f'{size}_newest'])} "
                    f"| {_span_ms(t[f'{size}_middle'])} |"
                )
        lines.append("")
    widgets = results.get("widgets")
    if widgets:
        lines += ["## 5. Widget rendering", ""]
        if "skipped" in widgets:
            lines += [f"Skipped: {widgets['skipped']}", ""]
        else:
            t = widgets["timings"]
            lines += [
                "| renderer | µs per render | warm queries |",
                "|---|---|---|",
                f"| django_chatkit `render_widget` (admin-managed template) | "
                f"{_span(t['render_widget'], 1e6)} | {widgets['warm_queries']} |",
                f"| SDK `WidgetTemplate.build` | {_span(t['sdk_build'], 1e6)} | – |",
                "",
            ]
    if results.get("human_pace"):
        lines += human_pace.markdown(results["human_pace"], _span)
    targets = results.get("targets") or []
    if targets:
        lines += [
            "## Targets",
            "",
            "| # | measure | contender | measured | target | met |",
            "|---|---|---|---|---|---|",
        ]
        for t in targets:
            met = "n/a" if t["met"] is None else ("yes" if t["met"] else "**no**")
            what = t["what"] + (f" — {t['detail']}" if t["detail"] else "")
            lines.append(f"| {t['target']} | {what} | {t['contender']} | {_measured(t)} | {t['limit']} | {met} |")
        lines.append("")
    return "\n".join(lines)
