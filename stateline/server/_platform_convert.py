"""Stateline's records in the shapes the LangGraph Platform API (and ``langgraph-sdk``) uses.

Stream parts are made from the thread's *stored* stateline events (``stateline._events``),
so a run streams the same from any replica and after a restart. What each Platform stream
mode carries here:

- ``values``: the thread's state values at the run's end (``__interrupt__`` added when it
  waits for a person); read from the checkpoint, so a rejoin long after gets the same;
- ``updates``: ``{agent: {"messages": [reply]}}`` per finished agent, ``{"__interrupt__": [...]}``
  when the run stops for approval, ``{"act": {...}}`` inside an agent (``stream_subgraphs``);
- ``messages-tuple``: ``[AIMessageChunk, metadata]`` per reply chunk (the agent's reply as
  one message when it streamed none);
- ``custom``: the payloads the nodes write (``{"kind": "stateline.chunk", "agent", "text"}``);
- ``events``: ``on_chain_start/end`` per agent, ``on_chat_model_stream`` per chunk,
  ``on_tool_start/end`` per action (a subset of LangChain's ``astream_events`` v2);
- ``debug``: ``task`` / ``task_result`` per agent and action.
"""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from typing import Any

from langchain_core.messages import BaseMessage

from stateline.nodes import CHUNK

MODES = ("values", "updates", "messages-tuple", "custom", "events", "debug")


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


def _default(value: Any) -> Any:
    if isinstance(value, BaseMessage):
        return value.model_dump()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (messages as LangChain message dicts)."""
    return json.loads(json.dumps(value, default=_default))


def checkpoint_ref(config: Any) -> dict[str, Any] | None:
    conf = (config or {}).get("configurable") or {}
    if not conf.get("checkpoint_id"):
        return None
    return {
        "thread_id": conf.get("thread_id"), "checkpoint_ns": conf.get("checkpoint_ns", ""),
        "checkpoint_id": conf["checkpoint_id"], "checkpoint_map": None,
    }


def interrupts_of(snapshot: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    seen: set[str] = set()

    def walk(snap: Any) -> None:
        for intr in list(getattr(snap, "interrupts", ()) or ()):
            if intr.id not in seen:
                seen.add(intr.id)
                found.append({"value": jsonable(intr.value), "id": intr.id})
        for task in getattr(snap, "tasks", ()) or ():
            for intr in task.interrupts:
                if intr.id not in seen:
                    seen.add(intr.id)
                    found.append({"value": jsonable(intr.value), "id": intr.id})
            if task.state is not None and not isinstance(task.state, dict):
                walk(task.state)

    walk(snapshot)
    return found


def state_json(snapshot: Any) -> dict[str, Any]:
    """A ``StateSnapshot`` as the Platform's ``ThreadState``."""
    tasks = []
    for task in snapshot.tasks:
        sub = task.state if task.state is not None and not isinstance(task.state, dict) else None
        tasks.append({
            "id": task.id, "name": task.name, "error": None if task.error is None else str(task.error),
            "interrupts": [{"value": jsonable(i.value), "id": i.id} for i in task.interrupts],
            "checkpoint": checkpoint_ref(sub.config) if sub is not None else None,
            "state": state_json(sub) if sub is not None else None,
            "result": jsonable(task.result) if getattr(task, "result", None) is not None else None,
        })
    return {
        "values": jsonable(snapshot.values or {}),
        "next": list(snapshot.next),
        "tasks": tasks,
        "checkpoint": checkpoint_ref(snapshot.config),
        "metadata": jsonable(snapshot.metadata or {}),
        "created_at": snapshot.created_at,
        "parent_checkpoint": checkpoint_ref(snapshot.parent_config),
        "interrupts": interrupts_of(snapshot),
    }


def _ai(agent: str, text: str, msg_id: str, *, chunk: bool) -> dict[str, Any]:
    return {
        "type": "AIMessageChunk" if chunk else "ai", "content": text, "id": msg_id, "name": agent,
        "additional_kwargs": {}, "response_metadata": {}, "tool_calls": [], "invalid_tool_calls": [],
        "usage_metadata": None, **({"tool_call_chunks": []} if chunk else {}),
    }


class PartMaker:
    """Stored stateline events of one Platform run -> ``(event, data)`` SSE parts."""

    def __init__(self, modes: list[str], subgraphs: bool, run_id: str, thread_id: str, assistant_id: str) -> None:
        self.modes = {"messages" if m == "messages-tuple" else m for m in modes}
        self.subgraphs = subgraphs
        self.run_id = run_id
        self.thread_id = thread_id
        self.assistant_id = assistant_id
        self.streamed: set[str] = set()
        """Message ids that got chunks (their agent's full reply is not sent again)."""
        self.step = 0

    def _meta(self, agent: str, ns: str | None = None) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "thread_id": self.thread_id, "assistant_id": self.assistant_id,
            "langgraph_node": agent, "langgraph_step": self.step, "langgraph_checkpoint_ns": ns or "",
        }

    def _name(self, mode: str, agent: str | None) -> str:
        return f"{mode}|{agent}" if self.subgraphs and agent else mode

    def parts(self, event: Any) -> list[tuple[str, Any]]:
        kind = event.type
        handler = getattr(self, f"_on_{kind}", None)
        return [(e, d) for e, d in (handler(event) if handler else []) if e.split("|")[0] in self.modes or e == "error"]

    def _msg_id(self, event: Any) -> str:
        return f"{event.run_id}:{event.agent}"

    def _on_agent_start(self, e: Any) -> list[tuple[str, Any]]:
        self.step += 1
        return [
            ("events", {"event": "on_chain_start", "name": e.agent, "run_id": e.run_id, "data": {"input": {}},
                        "metadata": self._meta(e.agent), "tags": [], "parent_ids": []}),
            ("debug", {"type": "task", "timestamp": iso(e.ts), "step": self.step,
                       "payload": {"id": f"{e.run_id}:{e.agent}", "name": e.agent, "input": {}, "triggers": []}}),
        ]

    def _on_content_chunk(self, e: Any) -> list[tuple[str, Any]]:
        msg_id = self._msg_id(e)
        self.streamed.add(msg_id)
        chunk = _ai(e.agent, e.text, msg_id, chunk=True)
        return [
            ("messages", [chunk, self._meta(e.agent)]),
            (self._name("custom", None), {"kind": CHUNK, "agent": e.agent, "text": e.text}),
            ("events", {"event": "on_chat_model_stream", "name": e.agent, "run_id": e.run_id,
                        "data": {"chunk": chunk}, "metadata": self._meta(e.agent), "tags": [], "parent_ids": []}),
        ]

    def _on_agent_complete(self, e: Any) -> list[tuple[str, Any]]:
        msg_id = self._msg_id(e)
        message = _ai(e.agent, e.text, msg_id, chunk=False)
        out: list[tuple[str, Any]] = []
        if msg_id not in self.streamed:
            out.append(("messages", [message, self._meta(e.agent)]))
        out += [
            ("updates", {e.agent: {"messages": [message]}}),
            ("events", {"event": "on_chain_end", "name": e.agent, "run_id": e.run_id,
                        "data": {"output": {"messages": [message]}}, "metadata": self._meta(e.agent), "tags": [],
                        "parent_ids": []}),
            ("debug", {"type": "task_result", "timestamp": iso(e.ts), "step": self.step,
                       "payload": {"id": f"{e.run_id}:{e.agent}", "name": e.agent, "error": None, "interrupts": [],
                                   "result": [["messages", [message]]]}}),
        ]
        return out

    def _on_tool_execution(self, e: Any) -> list[tuple[str, Any]]:
        data = jsonable(e.input)
        return [
            ("events", {"event": "on_tool_start", "name": e.tool, "run_id": e.call_id, "data": {"input": data},
                        "metadata": self._meta(e.agent, e.agent), "tags": [], "parent_ids": [e.run_id]}),
            ("debug", {"type": "task", "timestamp": iso(e.ts), "step": self.step,
                       "payload": {"id": e.call_id, "name": "act", "input": {"draft": data}, "triggers": []}}),
        ]

    def _on_tool_result(self, e: Any) -> list[tuple[str, Any]]:
        output = jsonable(e.output)
        out: list[tuple[str, Any]] = [
            ("events", {"event": "on_tool_end", "name": e.tool, "run_id": e.call_id,
                        "data": {"output": output, "error": e.error}, "metadata": self._meta(e.agent, e.agent),
                        "tags": [], "parent_ids": [e.run_id]}),
            ("debug", {"type": "task_result", "timestamp": iso(e.ts), "step": self.step,
                       "payload": {"id": e.call_id, "name": "act", "error": e.error, "interrupts": [],
                                   "result": [["results", {e.agent: output}]]}}),
        ]
        if self.subgraphs:
            out.append((f"updates|{e.agent}", {"act": {"results": {e.agent: output}}}))
        return out

    def _on_waiting_input(self, e: Any) -> list[tuple[str, Any]]:
        value = {"agent": e.agent, "draft": jsonable(e.draft), "question": e.question}
        return [("updates", {"__interrupt__": [{"value": value, "id": e.interrupt_id}]})]

    def _on_error(self, e: Any) -> list[tuple[str, Any]]:
        return [("error", {"error": e.error_type, "message": e.message})]
