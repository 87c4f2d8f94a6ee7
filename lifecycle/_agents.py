"""The agent lifecycle: stored statuses, checked transitions, the routing gate, failure counting."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from typing import Any

from stateline.checkpointing import Database, now
from stateline.errors import InvalidTransitionError, UnknownAgentError

from ._hooks import call_hooks
from ._records import AgentState, Transition
from ._schema import ensure_schema
from ._states import TRANSITIONS, AgentStatus, check_transition

DEFAULT_FAILURE_LIMIT = 3
_NOT_COUNTED = ("EffectInDoubtError",)  # an unknown outcome is not the agent's fault

_REFUSALS: dict[str, str] = {
    "paused": "The {agent} agent is paused right now, so I can't act on that. "
    "Your draft is kept; it continues when the agent is reactivated.",
    "error": "The {agent} agent is out of service after repeated failures. "
    "Your draft is kept; it continues once the agent is re-initialized.",
    "terminated": "The {agent} agent has been retired and no longer takes requests.",
    "created": "The {agent} agent is not active yet.",
    "initialized": "The {agent} agent is not active yet.",
}


class Lifecycle:
    """Agents' lifecycle statuses in the project database.

    Every change goes through :meth:`transition`: one table check, then a conditional
    ``UPDATE ... WHERE status = <the status checked>`` in the same transaction as the
    history row, so two processes changing one agent at once can never skip the table.
    The object is also a ``graphs`` hook: an ``act`` that fails ``failure_limit`` times
    in a row moves its agent to ``error``.
    """

    def __init__(
        self, db: Database, *, agents: Callable[[], Iterable[str]] | None = None,
        failure_limit: int = DEFAULT_FAILURE_LIMIT, hooks: Iterable[object] = (),
    ) -> None:
        self._db = db
        self._agents = agents
        self.failure_limit = failure_limit
        self._hooks: list[object] = list(hooks)
        ensure_schema(db)

    # -- hooks ----------------------------------------------------------------------
    def add_hook(self, hook: object) -> None:
        """Register an object with ``on_transition(*, agent, from_status, to_status, reason, actor, at)``."""
        self._hooks.append(hook)

    # -- reading --------------------------------------------------------------------
    def _known(self) -> list[str] | None:
        return None if self._agents is None else list(self._agents())

    def _check_known(self, agent: str) -> None:
        known = self._known()
        if known is not None and agent not in known:
            raise UnknownAgentError(agent, known)

    def get(self, agent: str) -> AgentState:
        """The agent's current status (UnknownAgentError if it is not registered)."""
        self._check_known(agent)
        row = self._db.query_one("SELECT * FROM lifecycle_agents WHERE agent = ?", (agent,))
        if row is None:
            if self._known() is None:
                raise UnknownAgentError(agent, [s.agent for s in self.list()])
            self.ensure([agent])
            return self.get(agent)
        return AgentState(row["agent"], row["status"], row["updated_at"], row["consecutive_failures"])

    def status(self, agent: str) -> str:
        return self.get(agent).status

    def list(self) -> list[AgentState]:
        """Every agent with a stored status, registered ones first in registration order."""
        rows = {r["agent"]: r for r in self._db.query("SELECT * FROM lifecycle_agents ORDER BY agent")}
        order = self._known() or []
        names = [n for n in order if n in rows] + [n for n in rows if n not in order]
        return [
            AgentState(n, rows[n]["status"], rows[n]["updated_at"], rows[n]["consecutive_failures"]) for n in names
        ]

    def history(self, agent: str) -> builtins.list[Transition]:
        """Every stored transition of ``agent``, oldest first."""
        self._check_known(agent)
        rows = self._db.query("SELECT * FROM lifecycle_transitions WHERE agent = ? ORDER BY seq", (agent,))
        if not rows and self._known() is None:
            raise UnknownAgentError(agent, [s.agent for s in self.list()])
        return [Transition(**{**dict(r), "reason": self._db.decrypt(r["reason"])}) for r in rows]

    # -- changing -------------------------------------------------------------------
    BRING_UP: tuple[tuple[str | None, AgentStatus, str], ...] = (
        (None, "created", "registered"),
        ("created", "initialized", "agent graph built"),
        ("initialized", "active", "ready to take messages"),
    )

    def ensure(self, agents: Iterable[str], *, actor: str = "system") -> None:
        """Give each new agent a status: created -> initialized -> active, in one transaction
        (a crash half-way leaves no agent stuck before ``active``). Stored ones keep theirs."""
        for agent in agents:
            if self._db.query_one("SELECT 1 FROM lifecycle_agents WHERE agent = ?", (agent,)) is not None:
                continue
            t = now()
            with self._db.transaction() as tx:
                inserted = tx.execute(
                    "INSERT INTO lifecycle_agents(agent, status, updated_at, consecutive_failures) "
                    "VALUES (?, 'active', ?, 0) ON CONFLICT(agent) DO NOTHING",
                    (agent, t),
                ).rowcount
                for src, dst, reason in self.BRING_UP if inserted else ():
                    if src is not None:
                        check_transition(agent, src, dst)
                    self._history_row(tx, agent, src, dst, reason, actor, t)
            for src, dst, reason in self.BRING_UP if inserted else ():
                call_hooks(self._hooks, "on_transition", agent=agent, from_status=src, to_status=dst,
                           reason=reason, actor=actor, at=t)

    def transition(self, agent: str, target: AgentStatus, *, reason: str, actor: str = "user") -> Transition:
        """Move ``agent`` to ``target`` if the table allows it from its current status.

        Raises InvalidTransitionError naming the allowed targets. A concurrent change
        between the check and the write is detected (conditional update) and re-checked.
        """
        if target not in TRANSITIONS:
            raise InvalidTransitionError(agent, "?", str(target), TRANSITIONS)
        for _ in range(20):
            current = self.get(agent).status
            check_transition(agent, current, target)
            t = now()
            with self._db.transaction() as tx:
                changed = tx.execute(
                    "UPDATE lifecycle_agents SET status = ?, updated_at = ?, consecutive_failures = 0 "
                    "WHERE agent = ? AND status = ?",
                    (target, t, agent, current),
                ).rowcount
                seq = self._history_row(tx, agent, current, target, reason, actor, t) if changed else 0
            if changed:
                call_hooks(self._hooks, "on_transition", agent=agent, from_status=current, to_status=target,
                           reason=reason, actor=actor, at=t)
                return Transition(agent, seq, current, target, reason, actor, t)
        raise InvalidTransitionError(agent, self.get(agent).status, target, ())  # pragma: no cover - livelock

    def _history_row(self, tx: Any, agent: str, src: str | None, dst: str, reason: str, actor: str, t: float) -> int:
        seq = tx.execute(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM lifecycle_transitions WHERE agent = ?", (agent,)
        ).fetchone()[0]
        tx.execute(
            "INSERT INTO lifecycle_transitions(agent, seq, from_status, to_status, reason, actor, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (agent, seq, src, dst, self._db.encrypt(reason), actor, t),
        )
        return int(seq)

    def pause(self, agent: str, *, reason: str = "paused by operator", actor: str = "user") -> Transition:
        return self.transition(agent, "paused", reason=reason, actor=actor)

    def activate(self, agent: str, *, reason: str = "activated by operator", actor: str = "user") -> Transition:
        return self.transition(agent, "active", reason=reason, actor=actor)

    def terminate(self, agent: str, *, reason: str = "terminated by operator", actor: str = "user") -> Transition:
        return self.transition(agent, "terminated", reason=reason, actor=actor)

    def initialize(self, agent: str, *, reason: str = "re-initialized by operator", actor: str = "user") -> Transition:
        """Leave ``error`` (the failure count starts again); ``activate`` then takes work again."""
        return self.transition(agent, "initialized", reason=reason, actor=actor)

    # -- routing gate -----------------------------------------------------------------
    def gate(self, agent: str) -> str | None:
        """None if ``agent`` is active, else the sentence the user gets instead (drafts are kept)."""
        row = self._db.query_one("SELECT status FROM lifecycle_agents WHERE agent = ?", (agent,))
        if row is None:
            self.ensure([agent])
            return self.gate(agent)
        status = row["status"]
        return None if status == "active" else _REFUSALS[status].format(agent=agent)

    # -- graphs hooks: consecutive act failures -------------------------------------------
    def node_failed(self, *, graph: str, node: str, error: BaseException, **_: Any) -> None:
        if node != "act" or type(error).__name__ in _NOT_COUNTED:
            return
        self._db.execute(
            "UPDATE lifecycle_agents SET consecutive_failures = consecutive_failures + 1 WHERE agent = ?", (graph,)
        )
        row = self._db.query_one("SELECT status, consecutive_failures FROM lifecycle_agents WHERE agent = ?", (graph,))
        if row is None or row["consecutive_failures"] < self.failure_limit or "error" not in TRANSITIONS[row["status"]]:
            return
        try:
            self.transition(
                graph,
                "error",
                actor="system",
                reason=f"act failed {row['consecutive_failures']} times in a row; "
                f"last: {type(error).__name__}: {error}",
            )
        except InvalidTransitionError:
            pass  # another process moved it first

    def node_finished(self, *, graph: str, node: str, **_: Any) -> None:
        if node == "act":
            self._db.execute(
                "UPDATE lifecycle_agents SET consecutive_failures = 0 WHERE agent = ? AND consecutive_failures > 0",
                (graph,),
            )
