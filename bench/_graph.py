"""The benchmark conversation: a 3-node graph, one 200-char human and AI message per turn."""

from __future__ import annotations

import os
import random
import sqlite3
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from stateline.checkpointing import Database, open_database

_RNG = random.Random(7)


def text() -> str:
    """200 characters of random lowercase words: compresses about as badly as real chat."""
    chars = [_RNG.choice("abcdefghijklmnopqrstuvwxyz     ") for _ in range(200)]
    return "".join(chars)

FAIL = {"count": False}
"""Set ``FAIL["count"] = True`` to make the last node raise (an interrupted run)."""


class State(TypedDict, total=False):
    messages: Annotated[list, add_messages]
    route: str
    turns: int


def _route(state: State) -> dict[str, Any]:
    return {"route": "reply"}


def _reply(state: State) -> dict[str, Any]:
    return {"messages": [AIMessage(text())]}


def _count(state: State) -> dict[str, Any]:
    if FAIL["count"]:
        raise RuntimeError("count failed on purpose")
    return {"turns": state.get("turns", 0) + 1}


def build(checkpointer: Any) -> Any:
    builder = StateGraph(State)
    builder.add_node("route", _route)
    builder.add_node("reply", _reply)
    builder.add_node("count", _count)
    builder.add_edge(START, "route")
    builder.add_edge("route", "reply")
    builder.add_edge("reply", "count")
    builder.add_edge("count", END)
    return builder.compile(checkpointer=checkpointer)


def turn(graph: Any, thread_id: str) -> None:
    cfg = {"configurable": {"thread_id": thread_id}}
    graph.invoke({"messages": [HumanMessage(text())]}, cfg, durability="sync")


class Backend:
    """One saver on one file: ``kind`` is "stock" (plain SqliteSaver) or "ours"."""

    def __init__(self, kind: str, path: Path) -> None:
        self.kind, self.path = kind, path
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        self.db: Database | None = None
        if kind == "stock":
            self.conn = sqlite3.connect(str(path), check_same_thread=False)
            self.saver: Any = SqliteSaver(self.conn)
            self.saver.setup()
        else:
            self.db = open_database(f"sqlite:///{path}")
            self.saver = self.db.saver
        self.graph = build(self.saver)

    def bytes(self) -> int:
        return sum(os.path.getsize(f"{self.path}{s}") for s in ("", "-wal") if os.path.exists(f"{self.path}{s}"))

    def reopen(self) -> Backend:
        """Another saver on the same file (own connections, cold caches), as a restarted process has."""
        fresh = Backend.__new__(Backend)
        fresh.kind, fresh.path, fresh.db = self.kind, self.path, None
        if self.kind == "stock":
            fresh.conn = sqlite3.connect(str(self.path), check_same_thread=False)
            fresh.saver = SqliteSaver(fresh.conn)
        else:
            fresh.db = open_database(f"sqlite:///{self.path}")
            fresh.saver = fresh.db.saver
        fresh.graph = build(fresh.saver)
        return fresh

    def checkpoints(self, thread_id: str) -> int:
        if self.kind == "stock":
            sql = "SELECT count(*) FROM checkpoints WHERE thread_id = ?1"
        else:  # live rows plus the ones packed into cold segments
            sql = (
                "SELECT (SELECT count(*) FROM sl_checkpoints WHERE thread_id = ?1) + "
                "(SELECT coalesce(sum(count), 0) FROM sl_segments WHERE thread_id = ?1)"
            )
        return self.saver.conn.execute(sql, (thread_id,)).fetchone()[0]

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
        else:
            self.conn.close()
