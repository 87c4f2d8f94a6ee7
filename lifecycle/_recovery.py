"""Crash recovery: find interrupted work and finish it, each thread once, whatever else is running.

What counts as interrupted (docs/architecture.md): a run still ``running`` whose process is gone (dead
pid on this host, or silent longer than ``stale_after_s`` elsewhere); a thread whose latest
state has unfinished tasks; a failed run whose error is transient (retried with backoff).
A run whose input never reached a checkpoint (crash before the first one) is re-submitted
from its run row. Threads waiting for a person are left alone. Each thread is handled under
a lease and every run row is closed with a conditional update, so two recoverers at once
never resume the same thread twice, and a second ``recover`` finds nothing to do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from stateline.checkpointing import Database, now
from stateline.errors import EffectInDoubtError, StatelineError

from . import _process
from ._effects import DurableLedger
from ._leases import ThreadLeases
from ._policy import RetryPolicy
from ._queries import RunLog
from ._records import RecoveryAction, RecoveryReport, RunInfo

IN_DOUBT = "EffectInDoubtError"
LOST_NOTE = "process gone before its input was checkpointed; re-submitted"


class Runner(Protocol):
    """What recovery needs from the application (``stateline.App`` provides it)."""

    def thread_status(self, thread_id: str) -> str: ...  # new, idle, waiting, interrupted, failed
    def thread_known(self, thread_id: str) -> bool: ...
    def pending_tasks(self, thread_id: str) -> list[str]: ...  # names of unfinished tasks, subgraphs included
    def input_persisted(self, thread_id: str, run_id: str) -> bool: ...
    def resume(
        self, thread_id: str, *, user_id: str | None, kind: str, parent_run_id: str | None, attempt: int
    ) -> str: ...
    def resubmit(
        self, thread_id: str, text: str, *, user_id: str | None, parent_run_id: str, attempt: int
    ) -> str: ...


class Recovery:
    """``recover()`` over one database and one application."""

    def __init__(
        self, db: Database, runner: Runner, *, ledger: DurableLedger, policy: RetryPolicy | None = None,
        lease_s: float = 300.0, stale_after_s: float = 600.0, sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._db = db
        self._runner = runner
        self._ledger = ledger
        self.policy = policy or RetryPolicy()
        self.stale_after_s = stale_after_s
        self._leases = ThreadLeases(db, lease_s=lease_s)
        self._log = RunLog(db)
        self._sleep = sleep

    # -- finding work ---------------------------------------------------------------
    def gone(self, run: RunInfo) -> bool:
        """True if ``run`` is marked running but its process no longer exists."""
        alive = _process.is_alive(run.host, run.pid, run.proc)
        if alive is not None:
            return not alive
        last = self._db.query_one("SELECT MAX(at) AS at FROM tracking_events WHERE run_id = ?", (run.run_id,))
        seen = max(run.started_at, (last["at"] if last and last["at"] is not None else 0.0))
        return now() - seen > self.stale_after_s

    @property
    def leases(self) -> ThreadLeases:
        """The thread leases recovery takes; ``App.send`` holds the same one for a turn."""
        return self._leases

    def stale_runs(self, thread_id: str | None = None) -> list[RunInfo]:
        runs = self._log.list(status="running", thread_id=thread_id, limit=1_000_000)
        return [r for r in runs if self.gone(r)]

    def _candidates(self, thread_id: str | None) -> list[str]:
        where, params = ("", ()) if thread_id is None else (" AND r.thread_id = ?", (thread_id,))
        rows = self._db.query(
            "SELECT r.thread_id, r.status, r.started_at FROM tracking_runs r WHERE r.started_at = "
            "(SELECT MAX(started_at) FROM tracking_runs x WHERE x.thread_id = r.thread_id)" + where,
            params,
        )
        unfinished = ("running", "failed", "interrupted", "retried")
        found = {r["thread_id"]: r["started_at"] for r in rows if r["status"] in unfinished}
        for r in self.stale_runs(thread_id):
            found.setdefault(r.thread_id, r.started_at)
        for t in self._untracked(thread_id):
            found.setdefault(t, 0.0)
        return sorted(found, key=lambda t: (found[t], t))

    def _untracked(self, thread_id: str | None) -> list[str]:
        """Threads in the thread index with no run rows (run before tracking was on)."""
        try:
            rows = self._db.query(
                "SELECT thread_id FROM threads t WHERE NOT EXISTS "
                "(SELECT 1 FROM tracking_runs r WHERE r.thread_id = t.thread_id)"
            )
        except StatelineError:
            return []  # no thread index in this database
        return [r["thread_id"] for r in rows if thread_id is None or r["thread_id"] == thread_id]

    # -- recovering -----------------------------------------------------------------
    def recover(
        self, *, thread_id: str | None = None, wait: bool = False, retry_failed: bool = False
    ) -> RecoveryReport:
        """Find interrupted work (of one thread, or all) and finish it; see the module docstring.

        With ``wait``, retries whose backoff has not elapsed are waited for (up to the
        policy's cap per round) instead of being reported as scheduled. With ``retry_failed``,
        failed turns are retried whatever their error class and attempt count (after the cause
        was fixed); effects in doubt still have to be resolved first.
        """
        actions: list[RecoveryAction] = []
        for t in self._candidates(thread_id):
            actions.extend(self._thread(t, retry_failed))
        while wait and any(a.outcome == "scheduled" for a in actions):
            scheduled = [a.thread_id for a in actions if a.outcome == "scheduled"]
            actions = [a for a in actions if a.outcome != "scheduled"]
            self._sleep(min(self.policy.max_delay_s, max(0.0, self._next_due(scheduled) - now())))
            for t in scheduled:
                actions.extend(self._thread(t, retry_failed))
        return RecoveryReport(actions)

    def _next_due(self, threads: list[str]) -> float:
        dues = [self._due(r) for t in threads for r in self._log.thread_runs(t)[-1:]]
        return min(dues) if dues else now()

    def _due(self, run: RunInfo) -> float:
        return (run.ended_at or run.started_at) + self.policy.delay(run.attempt)

    def _look(self, thread_id: str) -> tuple[list[RunInfo], list[RunInfo], str] | RecoveryAction:
        """(runs, runs still marked running, thread status), or a ``busy`` action if a live process has it.

        Called with the thread's lease held: a run of this very process still marked running
        cannot be in flight (every run holds the lease), so it counts as gone.
        """
        runs = self._log.thread_runs(thread_id)
        running = [r for r in runs if r.status == "running"]
        if any(not self.gone(r) and not _process.is_me(r.host, r.pid, r.proc) for r in running):
            return RecoveryAction(thread_id, "busy", "a live process is running this thread")
        return runs, running, self._runner.thread_status(thread_id)

    def _thread(self, thread_id: str, retry_failed: bool) -> list[RecoveryAction]:
        look = self._look(thread_id)
        if isinstance(look, RecoveryAction):
            return [look]
        _, running, status = look
        if running and status == "new" and not self._runner.thread_known(thread_id):
            return [RecoveryAction(
                thread_id, "unrecoverable", "the thread was deleted; its run rows are left as they are",
                running[-1].run_id,
            )]
        owner = self._leases.acquire(thread_id)
        if owner is None:
            return [RecoveryAction(thread_id, "busy", "another recoverer or a turn holds this thread")]
        try:
            return self.settle(thread_id, retry_failed=retry_failed)
        finally:
            self._leases.release(thread_id, owner)

    def settle(self, thread_id: str, *, retry_failed: bool = False, for_message: bool = False) -> list[RecoveryAction]:
        """Finish what the thread's earlier turns left, with its lease held by the caller.

        The one decision every entry point shares: ``recover`` calls it per thread, and so does
        every new turn (``for_message``) before its own message runs — so a crash followed by
        the next message gets exactly what a crash followed by ``recover`` gets. Rules:

        - runs of dead processes are closed (conditionally, so two deciders never both act);
        - an effect in doubt blocks the thread: nothing runs until an operator resolves it;
          after that the cut-short turn is finished (its act re-runs under the *same* effect
          key, so a ``done`` effect is replayed and a ``redo`` one runs once);
        - unfinished tasks are resumed; a transient failure is retried (bounded by the
          policy's attempts; the next message does not wait for the backoff);
        - an accepted input that never reached a checkpoint is re-submitted, whether its
          process died or its run failed with a transient error before the checkpoint.
        """
        look = self._look(thread_id)
        if isinstance(look, RecoveryAction):
            return [look]
        runs, stale, status = look
        lost = [r for r in stale if r.input is not None and not self._runner.input_persisted(thread_id, r.run_id)]
        children = {r.parent_run_id for r in runs if r.parent_run_id}
        # closed for re-submission by a recoverer that died before starting it
        lost = [r for r in runs if r.note == LOST_NOTE and r.run_id not in children] + lost
        actions: list[RecoveryAction] = []
        for r in stale:
            if r in lost:
                continue
            final, note = _closing(status)
            if not self._close(r, final, note):
                return [RecoveryAction(thread_id, "busy", "another recoverer took this run over")]
            if final == "completed":
                actions.append(RecoveryAction(thread_id, "closed", note, r.run_id))
        doubtful = self._ledger.in_doubt(thread_id=thread_id)
        if doubtful:
            ids = ", ".join(e.effect_id for e in doubtful)
            return [*actions, RecoveryAction(thread_id, "in_doubt", f"effects in doubt: {ids}; resolve them first")]
        last = stale[-1] if stale else (runs[-1] if runs else None)
        if status == "interrupted":
            actions.append(self._run(thread_id, "resumed", lambda: self._runner.resume(
                thread_id, user_id=last.user_id if last else None, kind="recover",
                parent_run_id=last.run_id if last else None, attempt=1)))
        elif status == "failed":
            actions.append(self._failed(thread_id, retry_failed, for_message))
        elif status == "waiting":
            actions.append(RecoveryAction(thread_id, "waiting", "waiting for a person; left alone"))
        elif (early := self._failed_before_input(runs, children)) is not None:
            lost.append(early)
        return actions + self._resubmit(thread_id, lost, retry_failed)

    def _failed_before_input(self, runs: list[RunInfo], children: set[str]) -> RunInfo | None:
        """The thread's latest run if it failed before its input reached a checkpoint (the thread
        looks idle, its message is in no checkpoint) and nothing has taken it over yet."""
        run = runs[-1] if runs else None
        if run is None or run.status != "failed" or run.input is None or run.run_id in children:
            return None
        return None if self._runner.input_persisted(run.thread_id, run.run_id) else run

    def _resubmit(self, thread_id: str, lost: list[RunInfo], retry_failed: bool) -> list[RecoveryAction]:
        actions: list[RecoveryAction] = []
        for r in lost:
            if self._runner.thread_status(thread_id) not in ("idle", "new"):
                actions.append(RecoveryAction(thread_id, "held", "input kept until the thread is idle", r.run_id))
                break
            if r.status == "failed" and not retry_failed:
                if not r.transient:
                    actions.append(RecoveryAction(
                        thread_id, "failed", f"permanent error before the input was stored: {r.error_type}: "
                        f"{r.error_message}; `stateline recover --thread {thread_id} --retry-failed`", r.run_id))
                    break
                if r.attempt >= self.policy.max_attempts:
                    actions.append(RecoveryAction(thread_id, "gave_up", f"{r.attempt} attempts failed", r.run_id))
                    break
            if r.status == "running" and not self._close(r, "interrupted", LOST_NOTE):
                break
            if r.status == "failed" and not self._db.execute(
                "UPDATE tracking_runs SET status = 'retried' WHERE run_id = ? AND status = 'failed'", (r.run_id,)
            ):
                break
            actions.append(self._run(thread_id, "resubmitted", lambda r=r: self._runner.resubmit(  # type: ignore[misc]  # r=r binds the loop's run
                thread_id, r.input or "", user_id=r.user_id, parent_run_id=r.run_id,
                attempt=r.attempt + 1 if r.status == "failed" else 1)))
        return actions

    def _close(self, run: RunInfo, status: str, note: str) -> bool:
        """Close a dead process's run (conditional on it still being ``running``) and add a ``crashed``
        event naming the unfinished tasks; False if another recoverer took it first."""
        event = self._db.query_one(
            "SELECT error_type, error_message FROM tracking_events WHERE run_id = ? AND kind = 'failed' "
            "ORDER BY seq DESC LIMIT 1", (run.run_id,),
        ) if status == "failed" else None
        if status == "failed" and event is None:  # the failure is an earlier run's; this one died retrying it
            status, note = "interrupted", "process gone while retrying a failed turn"
        tasks = ", ".join(self._runner.pending_tasks(run.thread_id)) or "none"
        with self._db.transaction() as tx:
            changed = tx.execute(
                "UPDATE tracking_runs SET status = ?, ended_at = ?, note = ?, error_type = ?, error_message = ?, "
                "transient = ? WHERE run_id = ? AND status = 'running'",
                (
                    status, now(), note,
                    event["error_type"] if event else None, event["error_message"] if event else None,
                    int(event["error_type"] in self.policy.transient_names) if event else None,
                    run.run_id,
                ),
            ).rowcount
            if changed:
                seq = tx.execute(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM tracking_events WHERE run_id = ?", (run.run_id,)
                ).fetchone()[0]  # type: ignore[index]  # an aggregate returns one row
                tx.execute(
                    "INSERT INTO tracking_events(run_id, seq, at, kind, detail) VALUES (?, ?, ?, 'crashed', ?)",
                    (run.run_id, seq, now(), f"process {run.pid} on {run.host} gone; unfinished tasks: {tasks}"),
                )
        return bool(changed)

    def _failed(self, thread_id: str, retry_failed: bool, for_message: bool) -> RecoveryAction:
        """A node failed: retry the turn if its error is transient (or ``retry_failed``), or if it
        failed on an effect in doubt that an operator has resolved since."""
        runs = self._log.thread_runs(thread_id)
        failed = [r for r in runs if r.status in ("failed", "retried")]
        if not failed and not (retry_failed and runs):
            return RecoveryAction(thread_id, "failed", "a node failed outside a tracked run; once its cause is fixed, "
                                  f"`stateline recover --thread {thread_id} --retry-failed`")
        run = failed[-1] if failed else runs[-1]
        error = f"{run.error_type}: {run.error_message}"
        if run.error_type == IN_DOUBT or retry_failed:
            pass  # resolved in doubt (checked by settle) or forced by the operator: finish it
        elif not run.transient:
            return RecoveryAction(thread_id, "failed", f"permanent error, not retried: {error}; once its cause is "
                                  f"fixed, `stateline recover --thread {thread_id} --retry-failed`", run.run_id)
        elif run.attempt >= self.policy.max_attempts:
            return RecoveryAction(thread_id, "gave_up", f"{run.attempt} attempts failed; last: {error}", run.run_id)
        elif not for_message and now() < self._due(run):
            return RecoveryAction(
                thread_id,
                "scheduled",
                f"retry {run.attempt + 1} due in {self._due(run) - now():.1f}s ({error})",
                run.run_id,
            )
        # a 'retried' run with no later run: a recoverer died between claiming it and retrying (we hold the lease)
        if run.status == "failed" and not self._db.execute(
            "UPDATE tracking_runs SET status = 'retried' WHERE run_id = ? AND status = 'failed'", (run.run_id,)
        ):
            return RecoveryAction(thread_id, "busy", "another recoverer retried this run", run.run_id)
        return self._run(thread_id, "retried", lambda: self._runner.resume(
            thread_id, user_id=run.user_id, kind="retry", parent_run_id=run.run_id, attempt=run.attempt + 1))

    def _run(self, thread_id: str, outcome: Any, start: Callable[[], str]) -> RecoveryAction:
        try:
            run_id = start()
        except EffectInDoubtError as exc:
            return RecoveryAction(thread_id, "in_doubt", str(exc))
        except Exception as exc:  # noqa: BLE001 - one thread's failure must not stop the others
            return RecoveryAction(thread_id, "failed", f"{type(exc).__name__}: {exc}")
        return RecoveryAction(thread_id, outcome, f"{outcome} in run {run_id}", run_id)


def _closing(status: str) -> tuple[str, str]:
    """How to close a run whose process died, given the thread's state now."""
    if status in ("idle", "new"):
        return "completed", "process gone after its last step; nothing left to run"
    if status == "failed":
        return "failed", "process gone after a node failed"
    if status == "waiting":
        return "waiting", "process gone while waiting for a person"
    return "interrupted", "process gone mid-turn; recovery resumes it"
