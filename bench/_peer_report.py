"""The peer benchmark's Markdown: one table of figures per system, one of what each persists, the targets."""

from __future__ import annotations

import statistics
from typing import Any

from bench._systems import PERSISTS

LABEL = {"stateline": "stateline App", "langgraph": "LangGraph + SqliteSaver", "openai": "OpenAI Agents SQLiteSession",
         "burr": "Burr + SQLitePersister", "adk": "ADK DatabaseSessionService"}  # fmt: skip


def _med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def _span(xs: list[float], fmt: str) -> str:
    if not xs:
        return "n/a"
    if len(xs) == 1:
        return format(xs[0], fmt)
    return f"{format(_med(xs), fmt)} ({format(min(xs), fmt)}-{format(max(xs), fmt)})"


def _fsync_text(f: Any) -> str:
    if not f.fsyncs:
        return "not counted"
    ask = [n for i, n in enumerate(f.fsyncs) if i % 3 != 2]
    act = [n for i, n in enumerate(f.fsyncs) if i % 3 == 2]
    return f"{_med(ask):g} ask / {_med(act):g} act turn (mean {statistics.mean(f.fsyncs):.1f})"


def _ms_near(f: Any, window: int) -> tuple[str, int, float]:
    n = len(f.long_times)
    if not n:
        return "n/a", 0, float("nan")
    ms = statistics.median(f.long_times[max(0, n - window) : n]) * 1000
    return f"{ms:.1f} ms at turn {n}", n, ms


def report(figs: dict[str, Any], p: dict[str, Any]) -> str:
    from bench.peers import WINDOW

    systems = list(figs)
    head = ["system", "10-turn conversations: turns/s (median, range) [load]", f"ms/turn near turn {p['turns']}",
            "disk after the long conversation",
            "fresh process: reload + first turn (after imports; imports; whole process)",
            "peak RSS", "fsyncs per turn (strace)", "written per turn"]  # fmt: skip
    rows = []
    for s in systems:
        f = figs[s]
        near, n, _ = _ms_near(f, WINDOW)
        rows.append([
            LABEL[s],
            f"{_span(f.short_rate, '.1f')} [{_med(f.short_load):.2f}]",
            f"{near} [{_med(f.long_load):.2f}]" + ("" if n >= p["turns"] else f" (budget {p['budget']:.0f} s reached)"),
            f"{f.disk / 1024:,.0f} KB after {n} turns",
            (f"{_med(f.reload_s) * 1000:.0f} ms; {_med(f.imports_s) * 1000:.0f} ms; "
             f"{_med(f.reload_wall_s) * 1000:.0f} ms [{_med(f.reload_load):.2f}]"),
            f"{f.peak_rss_kb / 1024:.0f} MB",
            _fsync_text(f),
            f"{_med([w for w in f.wrote if w >= 0]) / 1024:.1f} KB" if f.wrote else "n/a",
        ])  # fmt: skip
    lines = [_table(head, rows), "", _table(["system", "what it persists per turn"],
                                            [[LABEL[s], PERSISTS[s]] for s in systems])]  # fmt: skip
    if figs.get("stateline") and figs["stateline"].concurrent:
        conc = [[LABEL[s], _span([r for r, _ in figs[s].concurrent], ".1f"), str(sum(e for _, e in figs[s].concurrent))]
                for s in systems if figs[s].concurrent]  # fmt: skip
        lines += ["", _table([f"{p['workers']} concurrent conversations x {p['conc_turns']} turns",
                              "turns/s", "errors"], conc)]  # fmt: skip
    lines += ["", targets(figs, p)]
    if p["skipped"]:
        lines.append(f"\nNot installed, skipped: {', '.join(p['skipped'])} (`pip install -e '.[bench]'`).")
    lines.append(f"\n`uptime` at start: {p['uptime_start']}; at end: {p['uptime_end']}.")
    return "\n".join(lines)


def targets(figs: dict[str, Any], p: dict[str, Any]) -> str:
    from bench.peers import WINDOW

    if "stateline" not in figs:
        return "stateline not measured."
    me = figs["stateline"]
    out = []

    def add(name: str, value: str, met: bool | None) -> None:
        out.append([name, value, "n/a" if met is None else ("yes" if met else "NO")])

    ours = _med(me.short_rate)
    for s, f in figs.items():
        if s != "stateline" and f.short_rate:
            ratio = ours / _med(f.short_rate)
            add(f"10-turn turns/s vs {LABEL[s]}", f"{ratio:.2f}x", ratio >= (1.5 if s == "langgraph" else 1.0))
    if "langgraph" in figs and figs["langgraph"].long_times and me.long_times:
        lg = figs["langgraph"].long_times
        n = min(len(lg), len(me.long_times))  # the same turn on both (LangGraph may stop at its budget)
        ratio = statistics.median(lg[max(0, n - WINDOW) : n]) / statistics.median(me.long_times[max(0, n - WINDOW) : n])
        add(f"near turn {n}: LangGraph / stateline ms per turn", f"{ratio:.2f}x", ratio >= 5)
    n = len(me.long_times)
    if n >= 10:
        growth = statistics.median(me.long_times[max(0, n - WINDOW) : n]) / statistics.median(me.long_times[:10])
        add(f"stateline turn {n} / turn 10 (medians of {WINDOW} and of the first 10)", f"{growth:.2f}x", growth <= 1.2)
    if me.fsyncs:
        ask = [c for i, c in enumerate(me.fsyncs) if i % 3 != 2]
        add("stateline fsyncs per turn without an effect (max of ask turns)", f"{max(ask)}", max(ask) <= 2)
    if "burr" in figs and figs["burr"].reload_s:
        add("fresh reload + first turn vs Burr (after imports)", f"{_med(me.reload_s) * 1000:.0f} vs "
            f"{_med(figs['burr'].reload_s) * 1000:.0f} ms",
            _med(me.reload_s) <= _med(figs["burr"].reload_s))  # fmt: skip
    if me.concurrent and "langgraph" in figs and figs["langgraph"].concurrent:
        ratio = _med([r for r, _ in me.concurrent]) / _med([r for r, _ in figs["langgraph"].concurrent])
        errors = sum(e for _, e in me.concurrent)
        add(
            f"{p['workers']} concurrent vs LangGraph, errors",
            f"{ratio:.2f}x, {errors} errors",
            ratio >= 4 and errors == 0,
        )
    return _table(["target (same run)", "figure", "met"], out)


def _table(head: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=False)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=False)) + " |"  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, rows)])
