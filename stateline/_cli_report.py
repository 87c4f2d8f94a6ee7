"""An exception in the user's own code (an ``act``, a factory), reported in a few lines.

Not LangGraph's ~200-line traceback: the exception, the line of the user's code that raised
it, the run it failed (recorded), and what happens next. ``--verbose`` adds the traceback.
"""

from __future__ import annotations

import sysconfig
import traceback
from pathlib import Path
from typing import Any

from stateline.errors import StatelineError

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # the folder holding stateline/, graphs/, ...
_LIBRARY_DIRS = [Path(p).resolve() for p in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"]}]
_OWN_FOLDERS = ("stateline", "graphs", "nodes", "lifecycle", "checkpointing", "stateline_errors")


class UserCodeFailure(StatelineError):
    """Raised by the CLI around an exception from user code; ``report`` is what is printed."""

    def __init__(self, report: str) -> None:
        super().__init__(report.splitlines()[0])
        self.report = report


def _is_user_file(filename: str) -> bool:
    path = Path(filename).resolve()
    if filename.startswith("<") or any(path.is_relative_to(d) for d in _LIBRARY_DIRS):
        return False
    return not any(path.is_relative_to(_PACKAGE_ROOT / f) for f in _OWN_FOLDERS)


def user_frame(exc: BaseException) -> traceback.FrameSummary | None:
    """The innermost frame of the traceback that lies in the user's own files."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _is_user_file(f.filename)]
    return frames[-1] if frames else None


def _last_run(session: Any, thread: str) -> Any:
    ops = getattr(session, "ops", None)
    try:
        runs = ops.runs.thread_runs(thread) if ops is not None else []
    except Exception:  # noqa: BLE001 - the report must not fail on the way out
        return None
    return runs[-1] if runs else None


def user_code_failure(exc: BaseException, session: Any, thread: str, *, verbose: bool) -> UserCodeFailure:
    """The short report for ``exc``, raised by ``session.send(thread, ...)``."""
    lines = [f"error in your code: {type(exc).__name__}: {exc}"]
    frame = user_frame(exc)
    if frame is not None:
        lines.append(f"  at {frame.filename}:{frame.lineno}, in {frame.name}: {(frame.line or '').strip()}")
    run = _last_run(session, thread)
    if run is not None:
        lines.append(f"  run {run.run_id} of thread {thread} is recorded as {run.status}; the thread keeps its state")
        if run.transient:
            lines.append("  next: a transient error; `stateline recover` retries it (with backoff)")
        else:
            lines.append(f"  next: fix the cause, then `stateline recover --thread {thread} --retry-failed` retries it")
        lines.append(f"  details: stateline runs show {run.run_id}")
    if verbose:
        lines.append("".join(traceback.format_exception(exc)).rstrip())
    else:
        lines.append("  (the full traceback: add --verbose)")
    return UserCodeFailure("\n".join(lines))
