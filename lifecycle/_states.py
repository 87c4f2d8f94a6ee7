"""Agent lifecycle states: one type, one transition table, one check."""

from __future__ import annotations

from typing import Literal, get_args

from stateline.errors import InvalidTransitionError

AgentStatus = Literal["created", "initialized", "active", "paused", "terminated", "error"]
"""Where an agent is in its life; only ``active`` agents are routed to."""

STATUSES: tuple[AgentStatus, ...] = get_args(AgentStatus)

TRANSITIONS: dict[AgentStatus, frozenset[AgentStatus]] = {
    "created": frozenset({"initialized", "terminated", "error"}),
    "initialized": frozenset({"active", "terminated", "error"}),
    "active": frozenset({"paused", "terminated", "error"}),
    "paused": frozenset({"active", "terminated", "error"}),
    "error": frozenset({"initialized", "terminated"}),
    "terminated": frozenset(),
}
"""The only transitions allowed: ``error`` is reachable from every live state and left by
re-initializing; ``terminated`` is final."""


def check_transition(agent: str, current: str, target: str) -> None:
    """Raise InvalidTransitionError (naming the allowed targets) unless current -> target is in the table."""
    allowed = TRANSITIONS.get(current, frozenset())  # type: ignore[call-overload]
    if target not in allowed:
        raise InvalidTransitionError(agent, current, target, allowed)
