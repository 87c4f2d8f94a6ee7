"""What the server shows of agent lifecycles, runs, steps and effects.

With the ``lifecycle`` package wired into the app (``app.ops``: tracking on), agent
statuses, run rows, step events and the effect ledger (with effects *in doubt*) come from
it. Without it (``tracking=False`` or an older build) every agent is reported ``active``,
status changes answer 501, and the timeline comes from the server's own stored runs and
steps (``stateline._events``).
"""

from __future__ import annotations

from typing import Any

from stateline._app import App
from stateline.errors import InvalidInputError


def _ops(session: App) -> Any:
    return getattr(session, "ops", None)


def agent_rows(session: App) -> list[dict[str, Any]]:
    ops = _ops(session)
    states = {s.agent: s for s in ops.lifecycle.list()} if ops is not None else {}
    rows = []
    for a in session.agents():
        state = states.get(a.name)
        rows.append({
            "name": a.name, "description": a.description, "intents": list(a.intents),
            "fields": list(a.schema.model_fields) if a.schema is not None else [], "approval": a.approval,
            "status": state.status if state is not None else "active",
            "consecutive_failures": getattr(state, "consecutive_failures", 0),
            "lifecycle": ops is not None,
        })
    return rows


def change_agent_status(session: App, name: str, status: str, reason: str, actor: str) -> dict[str, Any]:
    from ._app import ApiError

    ops = _ops(session)
    if ops is None:
        raise ApiError(501, "NotImplemented", "agent lifecycle is off in this server (tracking disabled)")
    from stateline.lifecycle import STATUSES

    if status not in STATUSES:
        raise InvalidInputError(f"status {status!r} is not one of: {', '.join(STATUSES)}")
    ops.lifecycle.transition(name, status, reason=reason, actor=actor)
    return next(r for r in agent_rows(session) if r["name"] == name)


def _effect(e: Any, in_doubt: set[str]) -> dict[str, Any]:
    return {
        "effect_id": e.effect_id, "name": e.name, "status": e.status, "run_id": e.run_id,
        "error": e.error, "started_at": e.started_at, "finished_at": e.finished_at,
        "resolution": e.resolution, "in_doubt": e.effect_id in in_doubt,
    }


def _steps_from_events(run_id: str, events: list[Any]) -> list[dict[str, Any]]:
    """Lifecycle step events (started/finished/failed/interrupted) as timeline rows."""
    steps: list[dict[str, Any]] = []
    open_steps: dict[tuple[str | None, str | None], dict[str, Any]] = {}
    row: dict[str, Any] | None
    for ev in events:
        key = (ev.graph, ev.node)
        if ev.kind == "started":
            row = {
                "run_id": run_id,
                "task_id": f"{run_id}:{ev.seq}",
                "namespace": "" if ev.graph == "supervisor" else ev.graph, "node": ev.node,
                "agent": None if ev.graph == "supervisor" else ev.graph, "started_at": ev.at, "duration_ms": None,
                "status": "running", "error": None,
            }
            open_steps[key] = row
            steps.append(row)
        elif ev.kind in ("finished", "failed", "interrupted"):
            row = open_steps.pop(key, None)
            if row is None:
                continue
            row["status"] = {"finished": "done"}.get(ev.kind, ev.kind)
            row["duration_ms"] = None if ev.duration_s is None else round(ev.duration_s * 1000, 3)
            if ev.error_message:
                row["error"] = f"{ev.error_type}: {ev.error_message}" if ev.error_type else ev.error_message
    return steps


def _tracked_run(run: Any) -> dict[str, Any]:
    return {
        "run_id": run.run_id, "thread_id": run.thread_id, "user_id": run.user_id, "kind": run.kind,
        "input": run.input, "status": run.status, "agent": run.agent,
        "error": None if run.error_message is None else f"{run.error_type}: {run.error_message}",
        "started_at": run.started_at, "finished_at": run.ended_at,
        "duration_ms": None if run.duration_s is None else round(run.duration_s * 1000, 2),
        "attempt": run.attempt, "parent_run_id": run.parent_run_id,
    }


def run_row(session: App, run_id: str) -> dict[str, Any]:
    """One run (UnknownRunError if there is none)."""
    return _tracked_run(session.ops.runs.get(run_id))


def run_detail(session: App, run: dict[str, Any]) -> dict[str, Any]:
    """The run with its steps and the effects it started (``in_doubt`` marks effects in doubt)."""
    ops = session.ops
    doubt = {e.effect_id for e in ops.ledger.in_doubt(thread_id=run["thread_id"])}
    effects = [_effect(e, doubt) for e in ops.ledger.list(run_id=run["run_id"])]
    return {
        **run, "steps": _steps_from_events(run["run_id"], ops.runs.events(run["run_id"])),
        "effects": effects, "effects_in_doubt": [e for e in effects if e["in_doubt"]],
    }


def timeline(session: App, thread_id: str, limit: int) -> list[dict[str, Any]]:
    """The thread's runs, oldest first, each with steps and effects."""
    runs = [_tracked_run(r) for r in session.ops.runs.thread_runs(thread_id)][-limit:]
    return [run_detail(session, r) for r in runs]
