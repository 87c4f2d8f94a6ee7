"""Run ``stateline`` as a user would: in a folder of their own, no PYTHONPATH, a real subprocess."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def user_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATELINE_") and k != "PYTHONPATH"}
    env.update({"COLUMNS": "200", "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", **extra})
    return env


def run_cli(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stateline", *args], cwd=cwd, env=env or user_env(),
                          capture_output=True, text=True, timeout=timeout)


def one_line_exit_2(result: subprocess.CompletedProcess, text: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], result.stderr


AGENTS = '''
import os
import signal
from pathlib import Path

from pydantic import BaseModel
from stateline import Agent

class Note(BaseModel):
    text: str

def save(note: Note, ctx) -> str:
    return f"saved {note.text}"

class Question(BaseModel):
    topic: str

def answer(q: Question, ctx) -> str:
    marker = Path(__file__).with_name("crashed.marker")
    if q.topic == "crash" and not marker.exists():
        marker.write_text("once")
        os.kill(os.getpid(), signal.SIGKILL)  # the process dies mid-turn, once
    if q.topic == "boom":
        raise ValueError("the answer machine broke")
    return f"about {q.topic}: 42"

notes = Agent(name="notes", description="Keep notes", intents=["note"], schema=Note, act=save, keywords=["note"])
answers = Agent(name="answers", description="Answer questions", intents=["ask"], schema=Question, act=answer,
                keywords=["question", "ask"])
NOT_AN_AGENT = 42
'''


def make_project(root: Path, *, agents: str = '["mynotes:notes", "mynotes:answers"]', extra: str = "") -> Path:
    """A user's project: ``stateline.toml`` and ``mynotes.py`` in ``root``, a subfolder to run from."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "mynotes.py").write_text(AGENTS)
    (root / "stateline.toml").write_text(f'workflow = "notebook"\nagents = {agents}\ndb = "sqlite:///notes.db"\n{extra}')
    (root / "docs" / "deep").mkdir(parents=True, exist_ok=True)
    return root


def snapshot(db: Path) -> dict[str, tuple[str, int] | None]:
    """Bytes (hash) and mtime of the database and its -wal / -shm (None: absent)."""
    out: dict[str, tuple[str, int] | None] = {}
    for suffix in ("", "-wal", "-shm", "-journal"):
        p = Path(f"{db}{suffix}")
        out[suffix or "db"] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) if p.exists() else None
    return out
