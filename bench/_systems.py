"""The systems of the peer benchmark, each running the order form durably on one SQLite file.

Each class opens (or reopens) one conversation on ``path`` and runs ``turn(text) -> reply``.
Only the system named runs in a process (``bench._peer_child``), so imports stay inside.
``PERSISTS`` says what each writes per turn; the fsyncs beside it are counted with strace.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bench import _form

PERSISTS = {
    "stateline": "App.send: supervisor + agent subgraph (collect/validate/act), run row, step events, "
                 "lease, thread index; effect ledger record on the act turn; WAL, synchronous=FULL semantics",
    "langgraph": "StateGraph collect -> ask|act with add_messages, SqliteSaver, durability='sync': "
                 "a checkpoint per step (input + 2 nodes) holding every channel that changed, the full "
                 "message list each time; rollback journal (sqlite3 defaults)",
    "openai": "Runner.run with SQLiteSession: the turn's items (user message, assistant message) appended "
              "as rows; rollback journal (sqlite3 defaults)",
    "burr": "Application collect -> reply with SQLitePersister: the whole state (draft + full message "
            "list) as one JSON row after each of the 2 steps; rollback journal (sqlite3 defaults)",
    "adk": "Runner.run_async with DatabaseSessionService (SQLAlchemy + aiosqlite): user and model events "
           "appended, session row updated, per event",
}  # fmt: skip

SYSTEMS = tuple(PERSISTS)

IMPORTS = {
    "stateline": ("stateline", "stateline._app"),  # `import stateline` is lazy: _app pulls in LangGraph
    "langgraph": ("langgraph.graph", "langgraph.checkpoint.sqlite", "langchain_core.messages"),
    "openai": ("agents", "openai.types.responses"),
    "burr": ("burr.core", "burr.core.persistence"),
    "adk": ("google.adk.agents", "google.adk.runners", "google.adk.sessions", "google.adk.models.base_llm",
            "google.genai.types"),
    "bare-stock": ("bench._graph",),
    "bare-ours": ("bench._graph",),
}  # fmt: skip
"""What a process imports before it can open the system (timed apart from the reload itself)."""


def preload(name: str) -> float:
    """Import the named system's modules; the seconds it took."""
    import importlib
    import time

    start = time.perf_counter()
    for module in IMPORTS[name]:
        importlib.import_module(module)
    return time.perf_counter() - start


def open_system(name: str, path: Path, conversation: str) -> Any:
    """The named system with one conversation on ``path`` (created, or reloaded if stored).

    ``bare-stock`` / ``bare-ours`` are the storage rows' 3-node graph (``bench._graph``) on
    stock ``SqliteSaver`` / stateline's saver, so their fsyncs are counted the same way.
    """
    if name.startswith("bare-"):
        return Bare(name.removeprefix("bare-"), path, conversation)
    return {"stateline": Stateline, "langgraph": LangGraph, "openai": OpenAIAgents, "burr": Burr, "adk": Adk}[
        name
    ](path, conversation)


class Bare:
    """``bench._graph``'s route -> reply -> count graph (its own 200-character messages)."""

    def __init__(self, kind: str, path: Path, conversation: str) -> None:
        from bench._graph import Backend

        self.backend = Backend(kind, path)  # a new file each time (used to count fsyncs only)
        self.conversation = conversation

    def turn(self, text: str, conversation: str | None = None) -> str:
        from bench._graph import turn

        turn(self.backend.graph, conversation or self.conversation)
        return ""

    def close(self) -> None:
        self.backend.close()


class Stateline:
    def __init__(self, path: Path, conversation: str) -> None:
        from stateline import App

        self.app = App([_form.order_agent()], db=f"sqlite:///{path}")
        self.conversation = conversation

    def turn(self, text: str, conversation: str | None = None) -> str:
        turn = self.app.send(conversation or self.conversation, text)
        return turn.replies[-1].text if turn.replies else ""

    def close(self) -> None:
        self.app.close()


class LangGraph:
    """Plain LangGraph: the form as a 2-node graph on the stock ``SqliteSaver``."""

    def __init__(self, path: Path, conversation: str) -> None:
        import sqlite3
        from typing import Annotated, TypedDict

        from langchain_core.messages import AIMessage
        from langgraph.checkpoint.sqlite import SqliteSaver
        from langgraph.graph import END, START, StateGraph
        from langgraph.graph.message import add_messages

        State = TypedDict(  # functional form: the annotations are evaluated here, not as strings
            "State", {"messages": Annotated[list, add_messages], "draft": dict, "reply": str, "placed": bool},
            total=False,
        )

        def collect(state: dict) -> dict:
            draft, reply, placed = _form.reply(state.get("draft") or {}, state["messages"][-1].content)
            return {"draft": draft, "reply": reply, "placed": placed}

        def ask(state: dict) -> dict:
            return {"messages": [AIMessage(state["reply"])]}

        def act(state: dict) -> dict:
            _form.place_order(state["reply"])
            return {"messages": [AIMessage(state["reply"])]}

        builder: Any = StateGraph(State)
        builder.add_node("collect", collect)
        builder.add_node("ask", ask)
        builder.add_node("act", act)
        builder.add_edge(START, "collect")
        builder.add_conditional_edges("collect", lambda s: "act" if s.get("placed") else "ask", ["act", "ask"])
        builder.add_edge("ask", END)
        builder.add_edge("act", END)
        self.conn = sqlite3.connect(str(path), check_same_thread=False)
        saver = SqliteSaver(self.conn)
        saver.setup()
        self.graph: Any = builder.compile(checkpointer=saver)
        self.conversation = conversation

    def turn(self, text: str, conversation: str | None = None) -> str:
        from langchain_core.messages import HumanMessage

        cfg = {"configurable": {"thread_id": conversation or self.conversation}}
        out = self.graph.invoke({"messages": [HumanMessage(text)]}, cfg, durability="sync")
        return str(out["messages"][-1].content)

    def close(self) -> None:
        self.conn.close()


def _open_order_texts(items: list[tuple[str, str]]) -> list[str]:
    """User texts after the last placed order, from (role, text) pairs oldest first."""
    texts: list[str] = []
    for role, text in reversed(items):
        if role == "assistant" and text.startswith("Ordered"):
            break
        if role == "user":
            texts.append(text)
    return list(reversed(texts))


class OpenAIAgents:
    """OpenAI Agents SDK: ``Runner.run`` with ``SQLiteSession`` and a canned-response ``Model``."""

    def __init__(self, path: Path, conversation: str) -> None:
        from agents import Agent, SQLiteSession, set_tracing_disabled

        from bench._peer_models import canned_openai_model

        set_tracing_disabled(True)
        self.agent = Agent(name="orders", instructions="Collect item, quantity and size, then order.",
                           model=canned_openai_model(_open_order_texts))  # fmt: skip
        self.path, self.conversation = path, conversation
        self.sessions: dict[str, Any] = {}
        self.session(conversation)
        self.SQLiteSession = SQLiteSession

    def session(self, conversation: str) -> Any:
        from agents import SQLiteSession

        if conversation not in self.sessions:
            self.sessions[conversation] = SQLiteSession(conversation, str(self.path))
        return self.sessions[conversation]

    def turn(self, text: str, conversation: str | None = None) -> str:
        from agents import Runner

        result = Runner.run_sync(self.agent, text, session=self.session(conversation or self.conversation))
        return str(result.final_output)

    def close(self) -> None:
        for session in self.sessions.values():
            session.close()


class Burr:
    """Apache Burr: ``collect -> reply`` actions, state persisted by ``SQLitePersister`` per step."""

    def __init__(self, path: Path, conversation: str) -> None:
        from burr.core import ApplicationBuilder, State, default
        from burr.core.action import action
        from burr.core.persistence import SQLitePersister

        @action(reads=["draft"], writes=["draft", "messages", "reply", "placed"])
        def collect(state: State, user_input: str) -> State:
            draft, reply, placed = _form.reply(state["draft"], user_input)
            return state.update(draft=draft, reply=reply, placed=placed).append(
                messages={"role": "user", "content": user_input}
            )

        @action(reads=["reply", "placed"], writes=["messages"])
        def reply(state: State) -> State:
            if state["placed"]:
                _form.place_order(state["reply"])
            return state.append(messages={"role": "assistant", "content": state["reply"]})

        self.persister = SQLitePersister(db_path=str(path), table_name="burr_state")
        self.persister.initialize()
        self._build = lambda app_id: (
            ApplicationBuilder()
            .with_actions(collect=collect, reply=reply)
            .with_transitions(("collect", "reply", default), ("reply", "collect", default))
            .initialize_from(self.persister, resume_at_next_action=True,
                             default_state={"draft": {}, "messages": [], "reply": "", "placed": False},
                             default_entrypoint="collect")
            .with_state_persister(self.persister)
            .with_identifiers(app_id=app_id)
            .build()
        )  # fmt: skip
        self.apps: dict[str, Any] = {conversation: self._build(conversation)}
        self.conversation = conversation

    def turn(self, text: str, conversation: str | None = None) -> str:
        conversation = conversation or self.conversation
        if conversation not in self.apps:
            self.apps[conversation] = self._build(conversation)
        _, _, state = self.apps[conversation].run(halt_after=["reply"], inputs={"user_input": text})
        return str(state["messages"][-1]["content"])

    def close(self) -> None:
        self.persister.connection.close()


class Adk:
    """Google ADK: an ``LlmAgent`` on a deterministic ``BaseLlm``, ``DatabaseSessionService`` on SQLite."""

    def __init__(self, path: Path, conversation: str) -> None:
        from google.adk.agents import LlmAgent
        from google.adk.runners import Runner
        from google.adk.sessions import DatabaseSessionService

        from bench._peer_models import FormLlm

        self.loop = asyncio.new_event_loop()
        self.service = DatabaseSessionService(db_url=f"sqlite+aiosqlite:///{path}")
        agent = LlmAgent(name="orders", model=FormLlm(model="form", reader=_open_order_texts),
                         instruction="Collect item, quantity and size, then order.")  # fmt: skip
        self.runner = Runner(agent=agent, app_name="bench", session_service=self.service)
        self.conversation = conversation
        self.known: set[str] = set()
        self._ensure(conversation)

    def _ensure(self, conversation: str) -> None:
        if conversation in self.known:
            return
        got = self.loop.run_until_complete(
            self.service.get_session(app_name="bench", user_id="u", session_id=conversation)
        )
        if got is None:
            self.loop.run_until_complete(
                self.service.create_session(app_name="bench", user_id="u", session_id=conversation)
            )
        self.known.add(conversation)

    def turn(self, text: str, conversation: str | None = None) -> str:
        from google.genai import types

        conversation = conversation or self.conversation
        self._ensure(conversation)

        async def run() -> str:
            last = ""
            content = types.Content(role="user", parts=[types.Part(text=text)])
            async for event in self.runner.run_async(user_id="u", session_id=conversation, new_message=content):
                if event.content and event.content.parts and event.content.parts[0].text:
                    last = event.content.parts[0].text
            return last

        return self.loop.run_until_complete(run())

    def close(self) -> None:
        self.loop.run_until_complete(self.runner.close()) if hasattr(self.runner, "close") else None
        self.loop.close()
