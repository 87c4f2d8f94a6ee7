"""Run the ``stateline`` CLI as a real subprocess."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cli(
    *args: str, db: str | None = None, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "stateline"]
    if db is not None:
        cmd += ["--db", db]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    return subprocess.run(
        cmd + list(args), capture_output=True, text=True, input=stdin, timeout=timeout, env=env, cwd=ROOT
    )


def cli_json(*args: str, db: str) -> object:
    result = cli("--json", *args, db=db)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def file_digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
