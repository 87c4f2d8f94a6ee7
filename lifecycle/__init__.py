"""Agent lifecycle, execution tracking, the durable effect ledger and crash recovery.

``graphs`` declares the hook protocol; this package implements it (:class:`Tracker`,
:class:`Lifecycle`), and ``stateline`` wires it into the App. Everything lives in the same
database as the checkpoints, so after a crash one database tells the whole story.
"""

from stateline.graphs import (
    AgentSwitchedHook,
    NodeFailedHook,
    NodeFinishedHook,
    NodeInterruptedHook,
    NodeStartedHook,
    RunFinishedHook,
    RunStartedHook,
)

from ._agents import DEFAULT_FAILURE_LIMIT, Lifecycle
from ._cleanup import delete_thread_rows, existing_tables
from ._effects import DurableLedger
from ._hooks import LIFECYCLE_HOOK_METHODS, EffectHook, TransitionHook
from ._leases import LeaseHold, ThreadLeases
from ._policy import RetryPolicy
from ._queries import RUN_STATUSES, RunLog, run_detail
from ._records import (
    AgentState,
    AgentStats,
    EffectRecord,
    RecoveryAction,
    RecoveryOutcome,
    RecoveryReport,
    RunDetail,
    RunInfo,
    RunKind,
    RunStatus,
    StepEvent,
    Transition,
)
from ._recovery import Recovery, Runner
from ._schema import ensure_schema
from ._states import STATUSES, TRANSITIONS, AgentStatus, check_transition
from ._tracking import Tracker

__all__ = [
    "DEFAULT_FAILURE_LIMIT",
    "LIFECYCLE_HOOK_METHODS",
    "RUN_STATUSES",
    "STATUSES",
    "TRANSITIONS",
    "AgentState",
    "AgentStats",
    "AgentStatus",
    "AgentSwitchedHook",
    "DurableLedger",
    "EffectHook",
    "EffectRecord",
    "Lifecycle",
    "NodeFailedHook",
    "NodeFinishedHook",
    "NodeInterruptedHook",
    "NodeStartedHook",
    "Recovery",
    "RecoveryAction",
    "RecoveryOutcome",
    "RecoveryReport",
    "RetryPolicy",
    "RunDetail",
    "RunFinishedHook",
    "RunInfo",
    "RunKind",
    "RunLog",
    "RunStartedHook",
    "RunStatus",
    "Runner",
    "StepEvent",
    "LeaseHold",
    "ThreadLeases",
    "Tracker",
    "Transition",
    "TransitionHook",
    "check_transition",
    "delete_thread_rows",
    "ensure_schema",
    "existing_tables",
    "run_detail",
]
