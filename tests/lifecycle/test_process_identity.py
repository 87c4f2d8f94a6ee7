"""The process identity is read from /proc once per process, not once per turn (issue 12)."""

from __future__ import annotations

import os
import sys

import pytest
from stateline.lifecycle._process import current, is_alive

from stateline import App
from tests.core.agents import make_agents

_OPENED: list[str] = []
_WATCH = [False]


def _audit(event: str, args: tuple) -> None:
    if _WATCH[0] and event == "open" and isinstance(args[0], str) and args[0].startswith("/proc/"):
        _OPENED.append(args[0])


sys.addaudithook(_audit)  # Python's own open() audit event: every real open of a /proc file


def test_turns_read_no_proc_file_after_the_first(tmp_path) -> None:
    with App(make_agents(), db=f"sqlite:///{tmp_path / 'p.db'}") as app:
        app.send("t", "I want to order: item teapot")  # the first turn may read it
        _OPENED.clear()
        _WATCH[0] = True
        try:
            for text in ("quantity 2", "size large", "I want to order: item mug"):
                app.send("t", text)
        finally:
            _WATCH[0] = False
    assert _OPENED == [], f"turns read {len(_OPENED)} /proc files: {_OPENED[:4]}"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_has_its_own_identity() -> None:
    parent = current()
    assert current() is parent and is_alive(parent.host, parent.pid, parent.proc)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a new pid, so a new identity, and the parent's is still alive
        child = current()
        ok = child.pid == os.getpid() != parent.pid and is_alive(parent.host, parent.pid, parent.proc)
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    try:
        assert os.read(read, 1) == b"1"
    finally:
        os.close(read)
        os.waitpid(pid, 0)
