"""Fit stored drafts to the agents' current schema versions, for every thread at once.

Drafts also migrate lazily, when a thread next reaches the agent (``collect``); this is the
eager form behind ``stateline agents migrate``: each idle thread whose draft of an agent was
stored under another ``version`` gets one new checkpoint with the migrated draft. A thread
with unfinished work is skipped (it migrates when it runs on).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from stateline.nodes import migrate_draft

from ._agent import Agent


@dataclass(frozen=True)
class DraftMigration:
    """One agent's draft in one thread, fitted (or to be fitted) to the agent's version."""

    thread_id: str
    """The conversation."""
    agent: str
    """Whose draft."""
    from_version: int
    """The version the draft was stored under."""
    to_version: int
    """The agent's current version."""
    dropped: tuple[str, ...]
    """Fields the current schema rejected (asked for again)."""
    status: str
    """``migrated``, ``would migrate`` (dry run) or ``skipped`` (the thread has unfinished work)."""


def migrate_threads(
    graph: Any, agents: Sequence[Agent], thread_ids: Iterable[str], *, apply: bool = True
) -> list[DraftMigration]:
    """Migrate every stored draft whose version differs from its agent's (see the module docstring)."""
    done: list[DraftMigration] = []
    by_name = {a.name: a for a in agents if a.schema is not None}
    for thread_id in thread_ids:
        config = {"configurable": {"thread_id": thread_id}}
        snapshot = graph.get_state(config)
        values = snapshot.values or {}
        drafts, versions = values.get("drafts") or {}, values.get("versions") or {}
        changes: dict[str, Any] = {}
        for name, draft in drafts.items():
            agent = by_name.get(name)
            stored = int(versions.get(name, 1))
            if agent is None or not draft or stored == agent.version:
                continue
            assert agent.schema is not None
            new = migrate_draft(agent.schema, dict(draft), stored, agent.migrate)
            dropped = tuple(k for k in draft if k not in new)
            status = "skipped" if snapshot.next else ("migrated" if apply else "would migrate")
            done.append(DraftMigration(thread_id, name, stored, agent.version, dropped, status))
            if status == "migrated":
                changes.setdefault("drafts", {})[name] = new
                changes.setdefault("versions", {})[name] = agent.version
        if changes:
            graph.update_state(config, changes, as_node=next(iter(changes["drafts"])))
    return done
