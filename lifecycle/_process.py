"""Who owns a run or a lease: host, pid and the process's start time (so a reused pid is not mistaken)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import lru_cache


def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (Linux ``/proc``), or None where unavailable."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return None
    # the command name is in parentheses and may contain spaces: split after the last ')'
    fields = text.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


@dataclass(frozen=True)
class ProcessId:
    """One process, distinguishable from a later one that reuses its pid."""

    host: str
    pid: int
    proc: str | None

    @property
    def token(self) -> str:
        return f"{self.host}:{self.pid}:{self.proc or '-'}"


def current() -> ProcessId:
    """This process (computed per call: a forked child is a different process)."""
    pid = os.getpid()
    return ProcessId(_host(), pid, _start_time(pid))


@lru_cache(maxsize=1)
def _host() -> str:
    return socket.gethostname()


def is_me(host: str | None, pid: int | None, proc: str | None) -> bool:
    """Whether a recorded (host, pid, start time) is this very process."""
    me = current()
    return (host, pid, proc) == (me.host, me.pid, me.proc)


def is_alive(host: str | None, pid: int | None, proc: str | None) -> bool | None:
    """True/False for a process on this host; None when it runs elsewhere (cannot tell)."""
    if host != _host() or pid is None:
        return None
    if pid == os.getpid():  # this process, or an earlier one with the same pid (pid 1 in a restarted container)
        return proc is None or proc == _start_time(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if proc is not None:
        started = _start_time(pid)
        if started is not None and started != proc:
            return False  # the pid was reused by a newer process
        if _is_zombie(pid):
            return False
    return True


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            state = fh.read().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return False
    return state in ("Z", "X")
