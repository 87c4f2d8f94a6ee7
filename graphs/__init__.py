"""Agent graphs (collect -> validate -> act), the supervisor, the registry and the hook protocol."""

from ._agent import RESERVED_NAMES, Agent, build_agent_graph
from ._direct import TASK as AGENT_TASK
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
from ._migrate import DraftMigration, migrate_threads
from ._registry import AgentRegistry, load_agent
from ._runtime import RUN_KEY, run_config
from ._runtime import install as install_runtime
from ._supervisor import SUPERVISOR_GRAPH, build_supervisor

__all__ = [
    "AGENT_TASK",
    "HOOK_METHODS",
    "RESERVED_NAMES",
    "RUN_KEY",
    "SUPERVISOR_GRAPH",
    "Agent",
    "AgentRegistry",
    "AgentSwitchedHook",
    "DraftMigration",
    "HookSet",
    "NodeFailedHook",
    "NodeFinishedHook",
    "NodeInterruptedHook",
    "NodeStartedHook",
    "RunFinishedHook",
    "RunStartedHook",
    "build_agent_graph",
    "build_supervisor",
    "install_runtime",
    "instrument",
    "load_agent",
    "migrate_threads",
    "run_config",
]
