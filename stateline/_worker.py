"""``stateline worker``: take queued turns with leases and run them, across any number of processes.

A worker renews its job's lease from a background thread while the turn runs. If the
worker dies, the lease runs out and another worker takes the job over; the turn's run id
was fixed when it was queued, so the new worker can see whether the turn was already
accepted (its run row exists) and then only *finishes* it through recovery — resuming
unfinished tasks, with effects guarded by the ledger — instead of sending it again.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from stateline.lifecycle._queue import Job, RunQueue
from stateline.errors import (
    StatelineRuntimeError,
    ThreadBusyError,
    ThreadInDoubtError,
    TurnNotAcceptedError,
    WorkflowMismatchError,
)

from ._app import App
from ._convert import replies_after_last_user

BUSY_RETRY_S = 2.0
"""How long a job whose thread is held by another process (a recoverer) waits before its next claim."""
BLOCKED_RETRY_S = 10.0
"""How long a job whose thread cannot take it yet waits: an effect in doubt (until an operator
resolves it), an earlier turn that failed again transiently, or a thread of a workflow this
worker does not serve (another worker may). The job stays queued: it was accepted."""


class TurnNotFinishedError(StatelineRuntimeError):
    """A taken-over turn could not be finished by recovery (an effect in doubt, a permanent error)."""

    def __init__(self, thread_id: str, status: str, details: str) -> None:
        self.thread_id = thread_id
        self.status = status
        super().__init__(
            f"thread {thread_id!r} is still {status} after recovery ({details}); "
            "see `stateline runs list --thread` and `stateline effects list`"
        )


def worker_name() -> str:
    """host:pid:random — unique per worker process, readable in `jobs list`."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class _Heartbeat:
    """Renews a job's lease every third of the lease while the turn runs."""

    def __init__(self, queue: RunQueue, job: Job, worker: str) -> None:
        self._queue, self._job, self._worker = queue, job, worker
        self._stop = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._beat, name=f"lease-{job.job_id[:8]}", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self._queue.lease_s / 3):
            if not self._queue.renew(self._job.job_id, self._worker):
                self.lost = True
                return

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class WorkerStats:
    """What one worker did."""

    done: int = 0
    """Jobs finished."""
    failed: int = 0
    """Jobs whose turn failed."""
    taken_over: int = 0
    """Jobs another worker had started (finished through recovery)."""
    deferred: int = 0
    """Times a job was given back because its thread was held elsewhere (claimed again later)."""
    job_ids: list[str] = field(default_factory=list)
    """Every job this worker closed."""


class Worker:
    """Runs queued turns of one App until stopped (or idle, for batch use)."""

    def __init__(
        self, app: App, *, lease_s: float = 30.0, poll_s: float = 0.5, name: str | None = None,
        blocked_retry_s: float = BLOCKED_RETRY_S,
    ) -> None:
        self.app = app
        self.queue = RunQueue(app.database, lease_s=lease_s)
        self.poll_s = poll_s
        self.blocked_retry_s = blocked_retry_s
        """How long a job on a blocked thread waits before it is claimed again (see BLOCKED_RETRY_S)."""
        self.name = name or worker_name()
        self.stats = WorkerStats()
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Finish the current job, then return from :meth:`run`."""
        self._stopping.set()

    def run(self, *, until_idle: bool = False, max_jobs: int | None = None,
            on_job: Callable[[Job, str], None] | None = None) -> WorkerStats:
        """Take and run jobs; SIGTERM/SIGINT stop after the job in hand."""
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.stop())
        while not self._stopping.is_set():
            job = self.run_once(on_job=on_job)
            if job is None:
                if until_idle:
                    break
                self._stopping.wait(self.poll_s)
            elif max_jobs is not None and len(self.stats.job_ids) >= max_jobs:
                break
        return self.stats

    def run_once(self, *, on_job: Callable[[Job, str], None] | None = None) -> Job | None:
        """Claim one job and run it; None when nothing is claimable."""
        job = self.queue.claim(self.name)
        if job is None:
            return None
        wait: float | None = None
        with _Heartbeat(self.queue, job, self.name) as beat:
            try:
                reply = self._execute(job)
                error = None
            except ThreadBusyError:  # a recoverer or a turn elsewhere holds the thread: not a failure
                reply, error, wait = None, None, BUSY_RETRY_S
            except (ThreadInDoubtError, TurnNotAcceptedError, WorkflowMismatchError):  # see BLOCKED_RETRY_S
                reply, error, wait = None, None, self.blocked_retry_s
            except Exception as exc:  # noqa: BLE001 - a failed turn fails its job, not the worker
                reply, error = None, f"{type(exc).__name__}: {exc}"
        if beat.lost:
            return job  # the lease ran out mid-turn and another worker owns the job now
        if wait is not None:
            self.queue.defer(job.job_id, self.name, wait)
            self.stats.deferred += 1
            return job
        if self.queue.finish(job.job_id, self.name, reply=reply, error=error):
            self.stats.job_ids.append(job.job_id)
            if error is None:
                self.stats.done += 1
            else:
                self.stats.failed += 1
            if on_job is not None:
                on_job(job, error or reply or "")
        return job

    def _execute(self, job: Job) -> str:
        if self.app.ops.runs.exists(job.run_id):
            # An earlier holder accepted this turn and died: finish it, never send it again.
            self.stats.taken_over += 1
            self.app.core.check_workflow(job.thread_id)
            report = self.app.recover(thread_id=job.thread_id)
            if any(a.outcome == "in_doubt" for a in report.actions):
                raise ThreadInDoubtError(job.thread_id, [e.effect_id for e in self.app.ops.ledger.in_doubt(
                    thread_id=job.thread_id)] or ["?"])
            if any(a.outcome == "busy" for a in report.actions):
                raise ThreadBusyError(job.thread_id)
            status = self.app.status(job.thread_id)
            if status not in ("idle", "waiting"):
                # e.g. an effect in doubt: recovery refuses to repeat it, so the job fails visibly
                details = "; ".join(f"{a.outcome}: {a.detail}" for a in report.actions) or "nothing to resume"
                raise TurnNotFinishedError(job.thread_id, status, details)
            return _latest_reply(self.app, job.thread_id)
        return self.app.send(job.thread_id, job.message, user_id=job.user_id, run_id=job.run_id).reply


def _latest_reply(app: App, thread_id: str) -> str:
    snapshot = app.graph.get_state({"configurable": {"thread_id": thread_id}})
    replies = replies_after_last_user(list((snapshot.values or {}).get("messages") or []))
    return "\n".join(r.text for r in replies)


def wait_for(queue: RunQueue, job_ids: list[str], *, timeout_s: float = 60.0) -> list[Job]:
    """Poll until every job in ``job_ids`` is done or failed (for callers and tests)."""
    deadline = time.monotonic() + timeout_s
    while True:
        jobs = [queue.get(j) for j in job_ids]
        if all(j.status in ("done", "failed") for j in jobs) or time.monotonic() > deadline:
            return jobs
        time.sleep(0.1)


