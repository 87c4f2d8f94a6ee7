"""stateline: multi-agent LangGraph workflows whose conversations survive restarts and crashes.

Define agents (:class:`Agent`), put them in an :class:`App` over a database URL, and
:meth:`App.send` messages to threads. Everything a user needs is importable from here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from stateline.errors import *  # noqa: F403 - the whole error hierarchy is public (imports nothing heavy)
from stateline.errors import __all__ as _errors

# Everything else loads on first use (PEP 562), so `stateline --help` and `import stateline.errors`
# do not import LangGraph: name -> the module that defines it.
_LAZY = {
    **dict.fromkeys(["Database", "ThreadInfo", "open_database"], "stateline.checkpointing"),
    **dict.fromkeys(["Agent", "AgentRegistry", "HookSet", "build_agent_graph", "build_supervisor"], "stateline.graphs"),
    **dict.fromkeys(
        ["ActContext", "ModelProvider", "OfflineProvider", "OpenAIProvider", "provider_from_env"], "stateline.nodes"
    ),
    **dict.fromkeys(["App", "open_app"], "stateline._app"),
    **dict.fromkeys(["LangGraphExport", "langgraph_export"], "stateline._langgraph"),
    **dict.fromkeys(
        [
            "EVENT_TYPES", "AgentComplete", "AgentStart", "AgentSwitch", "ContentChunk", "ConversationEnd",
            "ErrorEvent", "Event", "Resumed", "ToolExecution", "ToolResult", "WaitingInput", "parse_event",
        ],
        "stateline._events",
    ),
    **dict.fromkeys(["ChatMessage", "ThreadStatus", "ThreadView", "Turn"], "stateline._records"),
}

if TYPE_CHECKING:
    from stateline.checkpointing import Database, ThreadInfo, open_database
    from stateline.graphs import Agent, AgentRegistry, HookSet, build_agent_graph, build_supervisor
    from stateline.nodes import ActContext, ModelProvider, OfflineProvider, OpenAIProvider, provider_from_env

    from ._app import App, open_app
    from ._langgraph import LangGraphExport, langgraph_export
    from ._events import (
        EVENT_TYPES,
        AgentComplete,
        AgentStart,
        AgentSwitch,
        ContentChunk,
        ConversationEnd,
        ErrorEvent,
        Event,
        Resumed,
        ToolExecution,
        ToolResult,
        WaitingInput,
        parse_event,
    )
    from ._records import ChatMessage, ThreadStatus, ThreadView, Turn


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stateline' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "EVENT_TYPES",
    "AgentComplete",
    "AgentStart",
    "AgentSwitch",
    "ContentChunk",
    "ConversationEnd",
    "ErrorEvent",
    "Event",
    "Resumed",
    "ToolExecution",
    "ToolResult",
    "WaitingInput",
    "parse_event",
    "ActContext",
    "Agent",
    "AgentRegistry",
    "App",
    "ChatMessage",
    "Database",
    "HookSet",
    "LangGraphExport",
    "ModelProvider",
    "OfflineProvider",
    "OpenAIProvider",
    "ThreadInfo",
    "ThreadStatus",
    "ThreadView",
    "Turn",
    "build_agent_graph",
    "build_supervisor",
    "langgraph_export",
    "open_app",
    "open_database",
    "provider_from_env",
    *_errors,
]
