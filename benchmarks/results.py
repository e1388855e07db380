"""The rows of the comparison table and the writer of `benchmarks/RESULTS.md` (stdlib only).

Every worker (`benchmarks.plugins`, `benchmarks.lookup`, ...) measures its rows inside a
`.bench` environment and writes them as JSON with `write_rows`; the entry point
(`python -m benchmarks`) reads them back with `read_rows` and renders the whole file with
`render_results`, a pure function of the figures it is given.

A row's figure is a ratio: snapy's cost divided by the other tool's cost on the same work,
taken within one run, then summarised as the median and the min-max over the runs. Below 1
snapy is ahead.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

EVEN = 0.05  # a median within 5% of 1.0 whose range spans 1.0 is called even


@dataclass
class Row:
    """One comparison of the table.

    `other` names what snapy is compared with ("bare call", "pytest-mimic"); `cannot` says in
    words why that tool cannot do the row (the figures are then empty); `scaling` marks a row
    that compares snapy (or a peer) with itself at two sizes, which has no "ahead".
    `why_behind` is the reason printed should snapy not be ahead in this row; `unmeasured`
    says why a row that should have figures has none.
    """

    section: str
    compared: str
    other: str
    median: float | None = None
    low: float | None = None
    high: float | None = None
    runs: int = 0
    group: str = ""
    note: str = ""
    cannot: str = ""
    scaling: bool = False
    why_behind: str = ""
    unmeasured: str = ""
    values: list[float] = field(default_factory=list)

    @classmethod
    def measured(
        cls, section: str, compared: str, other: str, values: Sequence[float], **extra: Any
    ) -> Row:
        """A row from its per-run ratios."""
        if not values:
            raise ValueError(f"row {compared!r}: no measured values; pass cannot= instead")
        return cls(
            section,
            compared,
            other,
            median=statistics.median(values),
            low=min(values),
            high=max(values),
            runs=len(values),
            values=[round(v, 6) for v in values],
            **extra,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Row:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"row {data.get('compared')!r}: unknown fields {unknown}")
        return cls(**data)

    def ahead(self) -> str:
        """Who is ahead in this row, in words."""
        if self.cannot:
            return f"snapy ({self.other} cannot)"
        if self.scaling or self.unmeasured or self.median is None:
            return "-"
        assert self.low is not None and self.high is not None
        if self.high < 1.0 or (self.median < 1.0 - EVEN and self.low < 1.0):
            return "snapy"
        if self.low > 1.0 or (self.median > 1.0 + EVEN and self.high > 1.0):
            return self.other
        return "even"

    def snapy_not_ahead(self) -> bool:
        if self.scaling or self.cannot or self.unmeasured:
            return False
        return self.ahead() != "snapy"


def write_rows(path: Path, rows: Iterable[Row], **meta: Any) -> None:
    """A worker's figures as JSON, for `python -m benchmarks` to read."""
    data = {**meta, "rows": [asdict(row) for row in rows]}
    path.write_text(json.dumps(data, indent=1) + "\n")


def read_rows(path: Path) -> tuple[dict[str, Any], list[Row]]:
    data = json.loads(path.read_text())
    rows = [Row.from_dict(row) for row in data.pop("rows")]
    return data, rows


def fmt(value: float | None) -> str:
    """Three significant digits at most, never written as 0.00 when it is not 0."""
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if 0 < value < 0.01:
        return f"{value:.{2 - math.floor(math.log10(value))}f}"
    return f"{value:.2f}"


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(rows: Sequence[Row], commands: dict[str, str]) -> list[str]:
    """The comparison table, one markdown row per comparison, a header row per section."""
    lines = [
        "| # | comparison (snapy / other) | ratio | min-max | runs | ahead | reproduce |",
        "|---|---|---|---|---|---|---|",
    ]
    section = None
    for number, row in enumerate(rows, 1):
        if row.section != section:
            section = row.section
            lines.append(f"| | **{cell(section)}** | | | | | |")
        command = commands.get(row.group, "")
        compared = row.compared + (f" ({row.note})" if row.note else "")
        if row.cannot:
            figures = [f"cannot: {row.cannot}", "-", "-"]
        elif row.unmeasured:
            figures = [f"not measured: {row.unmeasured}", "-", "-"]
        else:
            spread = f"{fmt(row.low)}-{fmt(row.high)}"
            figures = [fmt(row.median), spread, str(row.runs)]
        lines.append(
            f"| {number} | {cell(compared)} | {cell(figures[0])} | {figures[1]} | {figures[2]} "
            f"| {cell(row.ahead())} | {f'`{command}`' if command else ''} |"
        )
    return lines


def render_results(
    meta: dict[str, str],
    rows: Sequence[Row],
    commands: dict[str, str],
    methods: Sequence[tuple[str, str]],
) -> str:
    """The whole of RESULTS.md: the machine, the table, how each row is measured, and every
    row where snapy is not ahead with its reason.

    `meta` is shown in order as the machine table; `commands` maps a row's group to the
    command that reproduces it; `methods` are (title, paragraph) pairs.
    """
    out = [
        "# snapy against the tools users would pick instead",
        "",
        "Written by `python -m benchmarks` (also `python3 run.py bench`); do not edit by hand.",
        "Every figure is a ratio of two costs measured in the same run, interleaved (A B A B"
        " ...), so the machine's drift cancels: snapy's cost divided by the other tool's on"
        " the same work. **Below 1, snapy is ahead.** Each ratio is taken within one run;"
        " the median and the min-max over the runs are shown.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
    ]
    out += [f"| {cell(name)} | {cell(value)} |" for name, value in meta.items()]
    out += ["", "## Results", "", *table(rows, commands), ""]
    out += ["## How each row is measured", ""]
    for title, text in methods:
        out += [f"**{title}.** {text}", ""]
    behind = [(n, r) for n, r in enumerate(rows, 1) if r.snapy_not_ahead()]
    out += ["## Where snapy is not ahead", ""]
    if not behind:
        out += ["In no row.", ""]
    for number, row in behind:
        figure = f"{fmt(row.median)} ({fmt(row.low)}-{fmt(row.high)})"
        why = row.why_behind or "no reason recorded"
        out.append(f"- **#{number}** {row.section}: {row.compared}: {figure}, {row.ahead()}. {why}")
    cannot = [(n, r) for n, r in enumerate(rows, 1) if r.cannot]
    if cannot:
        out += ["", "## What the peers cannot do", ""]
        for number, row in cannot:
            out.append(f"- **#{number}** {row.other}: {row.cannot}")
    unmeasured = [(n, r) for n, r in enumerate(rows, 1) if r.unmeasured]
    if unmeasured:
        out += ["", "## Rows without figures", ""]
        for number, row in unmeasured:
            out.append(f"- **#{number}** {row.compared}: {row.unmeasured}")
    return "\n".join(out).rstrip() + "\n"
