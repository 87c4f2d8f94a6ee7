"""Reading what tracking stored: runs, a run's timeline, per-agent statistics."""

from __future__ import annotations

import builtins
import math
from typing import Any

from stateline.checkpointing import Database
from stateline.errors import InvalidInputError, UnknownRunError

from ._records import AgentStats, RunDetail, RunInfo, StepEvent
from ._schema import ensure_schema

RUN_STATUSES = ("running", "completed", "failed", "interrupted", "waiting", "retried")


def run_info(row: Any, db: Database | None = None) -> RunInfo:
    """A run row as a record; ``db`` unseals its sealed columns (see ``_schema.SEALED``)."""
    data = dict(row)
    if db is not None:
        for col in ("input", "error_message"):
            data[col] = db.decrypt(data[col])
    data["transient"] = None if data["transient"] is None else bool(data["transient"])
    return RunInfo(**data)


def step_event(row: Any, db: Database) -> StepEvent:
    """An event row as a record, its sealed columns unsealed."""
    data = dict(row)
    for col in ("error_message", "detail"):
        data[col] = db.decrypt(data[col])
    return StepEvent(**data)


class RunLog:
    """Queries over ``tracking_runs`` and ``tracking_events``."""

    def __init__(self, db: Database) -> None:
        self._db = db
        ensure_schema(db)

    def list(self, *, thread_id: str | None = None, status: str | None = None, limit: int = 100) -> list[RunInfo]:
        """Runs, newest first, optionally of one thread and/or one status."""
        if status is not None and status not in RUN_STATUSES:
            raise InvalidInputError(f"run status {status!r} is not one of: {', '.join(RUN_STATUSES)}")
        sql, params = "SELECT * FROM tracking_runs WHERE 1 = 1", []
        if thread_id is not None:
            sql += " AND thread_id = ?"
            params.append(thread_id)
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        rows = self._db.query(sql + " ORDER BY started_at DESC, run_id LIMIT ?", [*params, limit])
        return [run_info(r, self._db) for r in rows]

    def get(self, run_id: str) -> RunInfo:
        row = self._db.query_one("SELECT * FROM tracking_runs WHERE run_id = ?", (run_id,))
        if row is None:
            raise UnknownRunError(run_id)
        return run_info(row, self._db)

    def exists(self, run_id: str) -> bool:
        return self._db.query_one("SELECT 1 FROM tracking_runs WHERE run_id = ?", (run_id,)) is not None

    def events(self, run_id: str) -> builtins.list[StepEvent]:
        rows = self._db.query("SELECT * FROM tracking_events WHERE run_id = ? ORDER BY seq", (run_id,))
        return [step_event(r, self._db) for r in rows]

    def latest(self, thread_id: str) -> RunInfo | None:
        """The thread's most recent run (one indexed row), or None."""
        row = self._db.query_one(
            "SELECT * FROM tracking_runs WHERE thread_id = ? ORDER BY started_at DESC, run_id DESC LIMIT 1",
            (thread_id,),
        )
        return None if row is None else run_info(row, self._db)

    def thread_runs(self, thread_id: str) -> builtins.list[RunInfo]:
        """Every run of ``thread_id``, oldest first."""
        rows = self._db.query(
            "SELECT * FROM tracking_runs WHERE thread_id = ? ORDER BY started_at, run_id", (thread_id,)
        )
        return [run_info(r, self._db) for r in rows]

    def stats(self) -> builtins.list[AgentStats]:
        """Per agent: runs, failed runs (retried ones included), mean and p95 run duration, delegations."""
        durations: dict[str, list[float]] = {}
        counts: dict[str, list[int]] = {}
        for r in self._db.query(
            "SELECT agent, status, started_at, ended_at FROM tracking_runs WHERE agent IS NOT NULL"
        ):
            runs_failures = counts.setdefault(r["agent"], [0, 0])
            runs_failures[0] += 1
            runs_failures[1] += int(r["status"] in ("failed", "retried"))  # a retried run failed too
            if r["ended_at"] is not None:
                durations.setdefault(r["agent"], []).append(r["ended_at"] - r["started_at"])
        delegations = {
            r["node"]: r["n"]
            for r in self._db.query(
                "SELECT node, COUNT(*) AS n FROM tracking_events WHERE kind = 'agent_switched' GROUP BY node"
            )
        }
        names = sorted(set(counts) | set(delegations))
        return [
            AgentStats(
                agent=n, runs=counts.get(n, [0, 0])[0], failures=counts.get(n, [0, 0])[1],
                mean_s=_mean(durations.get(n)), p95_s=_p95(durations.get(n)), delegations=int(delegations.get(n, 0)),
            )
            for n in names
        ]


def _mean(values: list[float] | None) -> float | None:
    return sum(values) / len(values) if values else None


def _p95(values: list[float] | None) -> float | None:
    """Nearest-rank 95th percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def run_detail(log: RunLog, ledger: Any, run_id: str) -> RunDetail:
    """The run, its timeline and the effects it started (``ledger``: a DurableLedger)."""
    run = log.get(run_id)
    return RunDetail(run, log.events(run_id), ledger.list(run_id=run_id))
