"""The README's fifteen-line agent runs as written."""

from __future__ import annotations

import contextlib
import io

from .cli_helpers import ROOT


def test_readme_agent_example_runs(tmp_path, monkeypatch):
    source = (ROOT / "README.md").read_text().split("```python", 1)[1].split("```", 1)[0]
    assert len([line for line in source.splitlines() if line.strip()]) <= 20
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(source, "README.md", "exec", dont_inherit=True), {})
    assert printed.getvalue().splitlines() == [
        "To place orders, I still need: size (one of small, medium, large).",
        "charging for 2 teapot",
        "Ordered 2 large teapot.",
    ]
