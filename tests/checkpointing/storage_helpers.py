"""Helpers of the storage tests: a small real conversation graph (no mocks)."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from stateline.checkpointing import Database


class State(TypedDict, total=False):
    messages: Annotated[list, add_messages]
    route: str
    turns: int


class Chat:
    """route -> reply -> count; ``fail_in`` makes a node raise; ``calls`` counts node runs."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.fail_in: str | None = None
        self.calls: Counter[str] = Counter()
        self.graph = self._build()

    def _node(self, name: str, update: Any):
        def run(state: State) -> dict[str, Any]:
            self.calls[name] += 1
            if self.fail_in == name:
                raise RuntimeError(f"{name} failed on purpose")
            return update(state)

        return run

    def _build(self) -> Any:
        builder = StateGraph(State)
        builder.add_node("route", self._node("route", lambda s: {"route": "reply"}))
        builder.add_node(
            "reply", self._node("reply", lambda s: {"messages": [AIMessage(f"answer {len(s['messages'])}")]})
        )
        builder.add_node("count", self._node("count", lambda s: {"turns": s.get("turns", 0) + 1}))
        builder.add_edge(START, "route")
        builder.add_edge("route", "reply")
        builder.add_edge("reply", "count")
        builder.add_edge("count", END)
        return builder.compile(checkpointer=self.db.saver)

    def say(self, thread_id: str, text: str) -> dict[str, Any]:
        return self.graph.invoke({"messages": [HumanMessage(text)]}, cfg(thread_id), durability="sync")


def cfg(thread_id: str, checkpoint_id: str | None = None) -> dict[str, Any]:
    conf: dict[str, Any] = {"thread_id": thread_id}
    if checkpoint_id:
        conf["checkpoint_id"] = checkpoint_id
    return {"configurable": conf}


def file_bytes(path: Path) -> int:
    return sum(os.path.getsize(f"{path}{s}") for s in ("", "-wal") if os.path.exists(f"{path}{s}"))


SAVER_TABLES = {
    "sqlite": ("sl_checkpoints", "sl_blobs", "sl_writes", "sl_segments"),
    "postgres": ("checkpoints", "checkpoint_blobs", "checkpoint_writes"),
}


def saver_rows(db: Database) -> tuple:
    """Every row of the saver's tables, in a stable order (what 'changes nothing' compares)."""
    return tuple(
        tuple(tuple(r) for r in db.query(f"SELECT * FROM {t} ORDER BY 1, 2, 3, 4"))
        for t in SAVER_TABLES[db.url.backend]
    )
