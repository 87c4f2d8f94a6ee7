"""Agent graphs (collect -> validate -> act), the supervisor, the registry and the hook protocol."""

from ._agent import RESERVED_NAMES, Agent, build_agent_graph
from ._hooks import (
    HOOK_METHODS,
    AgentSwitchedHook,
    HookSet,
    NodeFailedHook,
    NodeFinishedHook,
    NodeInterruptedHook,
    NodeStartedHook,
    RunFinishedHook,
    RunStartedHook,
    instrument,
)
from ._registry import AgentRegistry, load_agent
from ._supervisor import SUPERVISOR_GRAPH, build_supervisor

__all__ = [
    "HOOK_METHODS",
    "RESERVED_NAMES",
    "SUPERVISOR_GRAPH",
    "Agent",
    "AgentRegistry",
    "AgentSwitchedHook",
    "HookSet",
    "NodeFailedHook",
    "NodeFinishedHook",
    "NodeInterruptedHook",
    "NodeStartedHook",
    "RunFinishedHook",
    "RunStartedHook",
    "build_agent_graph",
    "build_supervisor",
    "instrument",
    "load_agent",
]
