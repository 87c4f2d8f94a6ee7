"""stateline: multi-agent LangGraph workflows whose conversations survive restarts and crashes.

Define agents (:class:`Agent`), put them in an :class:`App` over a database URL, and
:meth:`App.send` messages to threads. Everything a user needs is importable from here.
"""

from stateline.checkpointing import Database, ThreadInfo, open_database
from stateline.graphs import Agent, AgentRegistry, HookSet, build_agent_graph, build_supervisor
from stateline.nodes import ActContext, ModelProvider, OfflineProvider, OpenAIProvider, provider_from_env
from stateline.errors import *  # noqa: F403 - the whole error hierarchy is public
from stateline.errors import __all__ as _errors

from ._app import App, open_app
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
    "ModelProvider",
    "OfflineProvider",
    "OpenAIProvider",
    "ThreadInfo",
    "ThreadStatus",
    "ThreadView",
    "Turn",
    "build_agent_graph",
    "build_supervisor",
    "open_app",
    "open_database",
    "provider_from_env",
    *_errors,
]
