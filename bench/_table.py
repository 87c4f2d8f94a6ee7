"""The result table: every figure beside stock LangGraph's, measured in the same run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Row:
    metric: str
    stock: float | None
    ours: float | None
    unit: str
    target: str = ""
    met: bool | None = None
    higher_is_better: bool = True
    note: str = ""

    def ratio(self) -> str:
        if not self.stock or not self.ours:
            return ""
        r = self.ours / self.stock if self.higher_is_better else self.stock / self.ours
        return f"{r:,.1f}x"


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "B":
        return _bytes(value)
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:,.2f} {unit}"


def _bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n}"


def render(rows: list[Row]) -> str:
    """A Markdown table (readable as plain text too). Ratio > 1 means stateline is better."""
    head = ["metric", "stock LangGraph", "stateline", "better by", "target", "met", "note"]
    body = [
        [
            r.metric,
            _fmt(r.stock, r.unit),
            _fmt(r.ours, r.unit),
            r.ratio(),
            r.target,
            "" if r.met is None else ("yes" if r.met else "NO"),
            r.note,
        ]
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=False)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=False)) + " |"  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, body)])
