"""Wire the lifecycle package into an App: lifecycle gate, tracker hooks, effect ledger, recovery."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.messages import HumanMessage

from ._core import Step
from ._ids import new_id

from stateline.checkpointing import on_threads_deleted
from stateline.lifecycle import DurableLedger, Lifecycle, Recovery, RetryPolicy, RunLog, Tracker, delete_thread_rows

if TYPE_CHECKING:
    from ._app import App


@dataclass
class Operations:
    """An App's operational side: agent lifecycle, run tracking, effect ledger, recovery."""

    lifecycle: Lifecycle
    """Agent statuses and transitions (also the routing gate)."""
    tracker: Tracker
    """Writes run rows and step events (a hook on ``App.hooks``)."""
    ledger: DurableLedger
    """Exactly-once side effects for ``ctx.effect``; in-doubt effects and their resolution."""
    runs: RunLog
    """Queries over tracked runs: list, show, stats."""
    recovery: Recovery
    """``recover()``: finish interrupted work."""


class AppRunner:
    """What :class:`lifecycle.Recovery` needs from an App (lifecycle never imports stateline)."""

    def __init__(self, app: App) -> None:
        self._app = app

    def thread_status(self, thread_id: str) -> str:
        return self._app.status(thread_id)

    def thread_known(self, thread_id: str) -> bool:
        return self._app.threads.exists(thread_id)

    def pending_tasks(self, thread_id: str) -> list[str]:
        from ._convert import _all_tasks

        snapshot = self._app.graph.get_state({"configurable": {"thread_id": thread_id}}, subgraphs=True)
        return [task.name for task in _all_tasks(snapshot)]

    def input_persisted(self, thread_id: str, run_id: str) -> bool:
        """Whether run ``run_id`` wrote its input checkpoint (LangGraph stores our run_id in metadata)."""
        config: Any = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
        return any(True for _ in self._app.database.saver.list(config, filter={"run_id": run_id}, limit=1))

    def resume(self, thread_id: str, *, user_id: str | None, kind: str, parent_run_id: str | None, attempt: int) -> str:
        """Finish the thread's unfinished turn as one tracked run of the turn core (lease held by the caller)."""
        step = Step(thread_id, new_id(), kind, None, self._app.graph, user_id=user_id, parent_run_id=parent_run_id,
                    attempt=attempt)
        return self._app.core.invoke(step).run_id

    def resubmit(
        self, thread_id: str, text: str, *, user_id: str | None, parent_run_id: str, attempt: int = 1
    ) -> str:
        """Run an accepted input that never reached a checkpoint (lease held by the caller)."""
        step = Step(thread_id, new_id(), "resubmit", {"messages": [HumanMessage(text)]}, self._app.graph, input=text,
                    user_id=user_id, parent_run_id=parent_run_id, attempt=attempt)
        return self._app.core.invoke(step).run_id


_STREAM_ROWS = (
    ("stream_events", "thread_id IN ({marks})"),
    ("api_threads", "thread_id IN ({marks})"),
)


@on_threads_deleted
def _delete_stream_rows(db: Any, thread_ids: Any) -> None:
    """A deleted thread's stored event stream and API ownership go with it (the audit log stays)."""
    delete_thread_rows(db, thread_ids, _STREAM_ROWS)


def wire(app: App, *, policy: RetryPolicy | None, failure_limit: int, steps: bool = True) -> Operations:
    """Create lifecycle, tracker, ledger and recovery on the app's database and plug them in.

    The tracker is a *participant* of every turn (its failures stop the step); the agent
    lifecycle observes (it counts failures and gates routing). ``steps=False`` keeps run
    rows only (``App(tracking=False)``).
    """
    db = app.database
    policy = policy or RetryPolicy()
    lifecycle = Lifecycle(db, agents=app.registry.names, failure_limit=failure_limit)
    lifecycle.ensure(app.registry.names())
    tracker = Tracker(db, policy=policy, steps=steps)
    ledger = DurableLedger(db, hooks=[tracker], current_run=tracker.current_run)
    app.hooks.add_participant(tracker)
    app.hooks.add(lifecycle)
    app.gate = lifecycle.gate
    app.ledger = ledger
    recovery = Recovery(db, AppRunner(app), ledger=ledger, policy=policy)
    return Operations(lifecycle, tracker, ledger, RunLog(db), recovery)
