"""Typed records the lifecycle API returns (also what ``--json`` prints)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

RunStatus = Literal["running", "completed", "failed", "interrupted", "waiting", "retried"]
"""running: in flight (or its process died, until recovered); completed; failed (error stored);
interrupted: its process died and recovery took it over; waiting: on a person; retried: a failed
run that recovery re-ran."""

RunKind = Literal["turn", "resume", "decision", "recover", "retry", "resubmit"]


@dataclass(frozen=True)
class Transition:
    """One stored lifecycle transition."""

    agent: str
    seq: int
    from_status: str | None
    to_status: str
    reason: str
    actor: str
    at: float


@dataclass(frozen=True)
class AgentState:
    """An agent's current lifecycle status."""

    agent: str
    status: str
    updated_at: float
    consecutive_failures: int


@dataclass(frozen=True)
class RunInfo:
    """One tracked run (one user turn, resume or recovery)."""

    run_id: str
    thread_id: str
    agent: str | None
    kind: str
    input: str | None
    user_id: str | None
    status: str
    pid: int | None
    host: str | None
    proc: str | None
    started_at: float
    ended_at: float | None
    error_type: str | None
    error_message: str | None
    transient: bool | None
    attempt: int
    parent_run_id: str | None
    note: str | None

    @property
    def duration_s(self) -> float | None:
        return None if self.ended_at is None else self.ended_at - self.started_at


@dataclass(frozen=True)
class StepEvent:
    """One step of a run: started, finished, failed, interrupted, agent_switched, resumed, effect."""

    run_id: str
    seq: int
    at: float
    kind: str
    graph: str | None
    node: str | None
    duration_s: float | None
    error_type: str | None
    error_message: str | None
    detail: str | None


@dataclass(frozen=True)
class EffectRecord:
    """One side effect in the ledger."""

    effect_id: str
    thread_id: str
    scope: str
    name: str
    run_id: str | None
    status: str
    """started (in doubt unless running now), done, failed, redo (allowed to run again)."""
    result: Any
    error: str | None
    started_at: float
    finished_at: float | None
    resolution: str | None


@dataclass(frozen=True)
class RunDetail:
    """What ``runs show`` prints: the run, its timeline and its effects."""

    run: RunInfo
    events: list[StepEvent]
    effects: list[EffectRecord]


@dataclass(frozen=True)
class AgentStats:
    """Per-agent figures from the tracked runs."""

    agent: str
    runs: int
    failures: int
    mean_s: float | None
    p95_s: float | None
    delegations: int


RecoveryOutcome = Literal[
    "resumed", "resubmitted", "retried", "closed", "scheduled", "gave_up", "failed",
    "in_doubt", "waiting", "busy", "unrecoverable", "held",
]
"""resumed/resubmitted/retried: work ran; closed: a dead run had nothing left; scheduled: a retry
waits for its backoff; gave_up: attempts exhausted; failed: permanent error (or the retry
failed); in_doubt: effects to resolve first; waiting: on a person; busy: another process has
the thread; unrecoverable: nothing to resume from; held: a lost input waits for the thread
to be idle."""


@dataclass(frozen=True)
class RecoveryAction:
    """What recovery did (or decided not to do) for one thread."""

    thread_id: str
    outcome: RecoveryOutcome
    detail: str
    run_id: str | None = None
    """The run recovery started (resumed/resubmitted/retried), or the run it reports on."""


@dataclass(frozen=True)
class RecoveryReport:
    """Everything one ``recover()`` call found and did."""

    actions: list[RecoveryAction] = field(default_factory=list)

    @property
    def acted(self) -> list[RecoveryAction]:
        """Actions that ran work: resumed, resubmitted or retried."""
        return [a for a in self.actions if a.outcome in ("resumed", "resubmitted", "retried")]

    @property
    def empty(self) -> bool:
        return not self.actions

    def summary(self) -> str:
        if not self.actions:
            return "nothing to recover: no interrupted, failed or unfinished runs"
        counts: dict[str, int] = {}
        for a in self.actions:
            counts[a.outcome] = counts.get(a.outcome, 0) + 1
        return ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
