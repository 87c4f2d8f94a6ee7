"""A real ``stateline serve`` subprocess on 127.0.0.1 and an SSE reader, for tests and benchmarks.

Needs ``httpx`` (a dev dependency). The tokens below are fixed test tokens: never use them
for a server anyone else can reach.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
"""Where the server process starts (the checkout, so ``tests.*`` agent modules import)."""
TOKENS = {"alice": "tok-alice-0001", "bob": "tok-bob-00002", "root": "tok-root-00003"}
TOKENS_ENV = f"{TOKENS['alice']}=alice,{TOKENS['bob']}=bob,{TOKENS['root']}=root:admin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``with ServerProcess(db) as srv: srv.client("alice").get(...)``; ``restart()`` keeps the database."""

    def __init__(
        self, db: Path | str, args: Sequence[str] = ("--approval", "listing"), env: dict[str, str] | None = None,
        log: Path | None = None,
    ) -> None:
        """``db``: a SQLite file, or any database URL (e.g. PostgreSQL)."""
        self.db_url = f"sqlite:///{db}" if isinstance(db, Path) else db
        self.args = list(args)
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        if log is None:
            log = db.with_suffix(".log") if isinstance(db, Path) else Path(tempfile.mkstemp(suffix=".log")[1])
        self.log = log

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> ServerProcess:  # a loaded 2-core machine took >30 s
        self.port = free_port()
        env = {**os.environ, "STATELINE_TOKENS": TOKENS_ENV, "STATELINE_PROVIDER": "offline", **self.env}
        named = any(a in ("--agents-file", "--example", "-e") for a in self.args)
        example = [] if named else ["--example", "storefront"]  # the CLI never guesses an example
        cmd = [
            sys.executable, "-m", "stateline", "--db", self.db_url, *example, "serve", "--port",
            str(self.port),
            *self.args,
        ]
        self._logfile = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self._logfile, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not come up in {timeout}s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        if getattr(self, "_logfile", None):
            self._logfile.close()

    def crash(self) -> None:
        """SIGKILL: no shutdown handlers, no flushing — a hard crash."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        self.stop()

    def restart(self) -> ServerProcess:
        self.stop()
        return self.start()

    def client(self, user: str | None = None, token: str | None = None) -> httpx.Client:
        token = token or (TOKENS[user] if user else None)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def sse(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """Parse an SSE response into events (the ``data`` JSON, plus ``_id`` from the ``id`` field)."""
    data: list[str] = []
    event_id = None
    for line in response.iter_lines():
        if line == "":
            if data:
                event = json.loads("\n".join(data))
                event["_id"] = event_id
                yield event
            data, event_id = [], None
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line.startswith("id:"):
            event_id = line[3:].strip()


def post_sse(client: httpx.Client, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """POST and read the whole SSE reply."""
    with client.stream("POST", path, json=body, headers={"Accept": "text/event-stream"}) as response:
        assert response.status_code == 200, response.read()
        return list(sse(response))


def new_thread(client: httpx.Client, thread_id: str | None = None, **extra: Any) -> str:
    body = {"thread_id": thread_id, **extra} if thread_id else extra
    response = client.post("/api/threads", json=body)
    assert response.status_code == 201, response.text
    return response.json()["thread_id"]


def kinds(events: list[dict[str, Any]]) -> list[str]:
    """Event types with runs of content_chunk collapsed to one: the shape of a turn."""
    out: list[str] = []
    for e in events:
        if not (out and out[-1] == e["type"] == "content_chunk"):
            out.append(e["type"])
    return out
