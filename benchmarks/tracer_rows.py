"""Table rows from `benchmarks/bench_trace.py`'s figures (stdlib only).

`bench_trace.py --json PATH` writes `{"python", "quick", "rounds", "rows": [{"row", "workload":
"all|mixed|none", "tool": "snapy|hunter|viztracer|viztracer-unfiltered|cprofile|floor",
"figure": "ratio|ns_per_call", "median", "min", "max", "note"}]}`, each ratio being the traced
run's time over the untraced run's, round by round. A version of the script without `--json`
prints a text table instead; `parse_text` reads that into the same records.

Rows compare snapy without argument capture (what hunter's empty action, viztracer's default
and cProfile record too) with the untraced run and with each peer. Only each tool's median and
min-max reach this module, so a snapy/peer row's median is the ratio of the medians and its
range the widest the two ranges allow (snapy's min / the peer's max to snapy's max / the
peer's min).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from benchmarks.results import Row

WORKLOADS = {"all": "every call recorded", "mixed": "1 call in 7 recorded", "none": "no call"}
PEERS = [("hunter", "hunter"), ("viztracer", "viztracer"), ("cprofile", "cProfile")]
TEXT_WORKLOADS = {"match": "all", "mixed": "mixed", "none": "none"}
LINE = re.compile(
    r"^(?P<workload>match|mixed|none)\s+(?P<row>.+?)\s+(?P<median>[\d.]+)x"
    r" \((?P<min>[\d.]+)-(?P<max>[\d.]+)\)"
)


def tool_of(row: str) -> str:
    """The tool a row of bench_trace's text table measures."""
    name = row.lower()
    if name.startswith("snapy"):
        return "snapy"
    if name.startswith("(floor"):
        return "floor"
    if name.startswith("viztracer"):
        return "viztracer" if "filtered" in name else "viztracer-unfiltered"
    return "cprofile" if name.startswith("cprofile") else name.split()[0]


def parse_text(text: str) -> list[dict[str, Any]]:
    """bench_trace.py's printed table as the records its --json would hold."""
    records = []
    for line in text.splitlines():
        found = LINE.match(line)
        if found is None:
            continue
        records.append(
            {
                "row": found["row"].strip(),
                "workload": TEXT_WORKLOADS[found["workload"]],
                "tool": tool_of(found["row"].strip()),
                "figure": "ratio",
                "median": float(found["median"]),
                "min": float(found["min"]),
                "max": float(found["max"]),
                "note": "",
            }
        )
    return records


def pick(records: Sequence[dict[str, Any]], workload: str, tool: str) -> dict[str, Any] | None:
    mine = [
        r
        for r in records
        if r["workload"] == workload and r["tool"] == tool and r.get("figure") == "ratio"
    ]
    if tool == "snapy":
        plain = [r for r in mine if "no capture" in r["row"]]
        mine = plain or mine
    return mine[0] if mine else None


def tracer_rows(records: Sequence[dict[str, Any]], python: str, rounds: int) -> list[Row]:
    """The tracer rows of one Python version."""
    section = f"tracer, Python {python}"
    rows = []
    for workload, what in WORKLOADS.items():
        ours = pick(records, workload, "snapy")
        if ours is None:
            raise ValueError(f"bench_trace.py gave no snapy row for workload {workload!r}")
        default = [
            r
            for r in records
            if r["workload"] == workload and r["tool"] == "snapy" and "default" in r["row"]
        ]
        note = f"{workload}: {what}"
        if default:
            note += f"; with args and returns captured {default[0]['median']:.2f}x untraced"
        rows.append(
            Row(
                section,
                f"snapy FunctionTracer (no capture) / untraced run, workload {workload!r}",
                "untraced",
                median=ours["median"],
                low=ours["min"],
                high=ours["max"],
                runs=rounds,
                group="tracer",
                note=note,
                why_behind="The untraced run is the floor: any tracer adds time. On Python "
                "3.11 any trace function makes the interpreter run every instruction of every "
                "call on its slow, tracing path, even for a call it filters out; on 3.12+ "
                "sys.monitoring lets calls outside the filter run untraced.",
            )
        )
        for tool, label in PEERS:
            theirs = pick(records, workload, tool)
            # bench_trace.py runs hunter (2-5 us per call) in a third of the rounds only
            runs = max(2, rounds // 3) if tool == "hunter" else rounds
            compared = f"snapy FunctionTracer / {label}, workload {workload!r}"
            if theirs is None:
                rows.append(
                    Row(
                        section,
                        compared,
                        label,
                        group="tracer",
                        unmeasured=f"bench_trace.py printed no {label} row",
                    )
                )
                continue
            rows.append(
                Row(
                    section,
                    compared,
                    label,
                    median=ours["median"] / theirs["median"],
                    low=ours["min"] / theirs["max"],
                    high=ours["max"] / theirs["min"],
                    runs=runs,
                    group="tracer",
                    note=f"slowdowns {ours['median']:.2f}x / {theirs['median']:.2f}x",
                    why_behind=WHY.get((tool, workload), WHY.get((tool, "*"), "")),
                )
            )
    return rows


WHY = {
    ("viztracer", "*"): "On Python 3.11 snapy's C hot path is a trace function, which the "
    "interpreter also calls to keep line numbers on every instruction and on exceptions (snapy "
    "records what a call raised); viztracer is a profile function, which it calls on calls and "
    "returns only. Where the C speedups are not built snapy's callbacks are Python code.",
    ("cprofile", "*"): "cProfile is written in C and keeps counters, not a call tree; on 3.11 "
    "it is a profile function where snapy's C hot path is a trace function (see viztracer).",
    ("hunter", "*"): "hunter is slower here in most runs; when it is not, the spread of the "
    "few hunter rounds is the reason.",
}
