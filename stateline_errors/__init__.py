"""The error hierarchy every stateline layer raises.

It sits below every other package (``nodes``, ``checkpointing``, ``graphs``,
``lifecycle``, ``stateline``) so each layer can raise typed errors without
importing upward; ``stateline`` re-exports all of it.

Errors are split by phase, as pydantic-graph does: :class:`SetupError` while
building (bad definitions, bad configuration) and :class:`StatelineRuntimeError`
while running. Every error carries its domain values as attributes and a
message that says what was wrong and how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "StatelineError",
    "SetupError",
    "AgentDefinitionError",
    "ConfigError",
    "StatelineRuntimeError",
    "InvalidInputError",
    "UnknownAgentError",
    "UnknownThreadError",
    "UnknownExampleError",
    "UnknownRunError",
    "UnknownCheckpointError",
    "StorageError",
    "DatabaseLockedError",
    "CorruptDatabaseError",
    "SchemaVersionError",
    "ModelProviderError",
    "InvalidTransitionError",
    "AgentUnavailableError",
    "ThreadBusyError",
    "ThreadStateError",
    "EncryptionKeyError",
    "EffectInDoubtError",
    "ThreadInDoubtError",
    "TurnNotAcceptedError",
    "WorkflowMismatchError",
    "UnknownEffectError",
]


def _names(values: Iterable[str]) -> str:
    values = sorted(values)
    return ", ".join(values) if values else "(none)"


class StatelineError(Exception):
    """Base class of every error stateline raises on purpose."""


class SetupError(StatelineError):
    """Raised while building: a definition or configuration is invalid."""


class AgentDefinitionError(SetupError):
    """An agent definition is invalid; ``agent`` names it, ``field`` the culprit."""

    def __init__(self, agent: str | None, field: str, problem: str) -> None:
        self.agent = agent
        self.field = field
        self.problem = problem
        who = f"agent {agent!r}" if agent else "agent definition"
        super().__init__(f"{who}: {field}: {problem}")


class ConfigError(SetupError):
    """A configuration value (URL, file, environment variable) is invalid."""


class StatelineRuntimeError(StatelineError):
    """Raised while running a conversation or an admin command."""


class InvalidInputError(StatelineRuntimeError):
    """A caller passed a value the API does not accept (empty message, bad id)."""


class UnknownAgentError(StatelineRuntimeError):
    """No agent is registered under ``name``."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = sorted(known)
        super().__init__(
            f"unknown agent {name!r}; registered agents: {_names(self.known)}"
        )


class UnknownThreadError(StatelineRuntimeError):
    """No conversation is stored under ``thread_id``."""

    def __init__(self, thread_id: str) -> None:
        self.thread_id = thread_id
        super().__init__(
            f"unknown thread {thread_id!r}; `stateline threads list` shows the stored ones"
        )


class UnknownExampleError(StatelineRuntimeError):
    """No example workflow is called ``name``."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = sorted(known)
        super().__init__(f"unknown example {name!r}; choose one of: {_names(self.known)}")


class UnknownRunError(StatelineRuntimeError):
    """No run is stored under ``run_id``."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"unknown run {run_id!r}; `stateline runs list` shows the stored ones")


class UnknownCheckpointError(StatelineRuntimeError):
    """Thread ``thread_id`` has no checkpoint ``checkpoint_id``."""

    def __init__(self, thread_id: str, checkpoint_id: str) -> None:
        self.thread_id = thread_id
        self.checkpoint_id = checkpoint_id
        super().__init__(
            f"thread {thread_id!r} has no checkpoint {checkpoint_id!r}; "
            f"`stateline threads history {thread_id}` lists its checkpoints"
        )


class StorageError(StatelineRuntimeError):
    """The database cannot be opened, read or written."""

    def __init__(self, message: str, *, location: str | None = None) -> None:
        self.location = location
        super().__init__(message)


class DatabaseLockedError(StorageError):
    """Another process held the database longer than the busy timeout."""


class CorruptDatabaseError(StorageError):
    """The file is not a SQLite database, or it is damaged."""


class SchemaVersionError(StorageError):
    """The database was written by a newer stateline than this one."""


class ModelProviderError(StatelineRuntimeError):
    """The model provider failed; ``transient`` errors (timeouts, rate limits) are worth retrying."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        self.transient = transient
        super().__init__(message)

    transient: bool = False
    """True when retrying later may succeed (timeout, rate limit, connection); recovery retries those."""


class InvalidTransitionError(StatelineRuntimeError):
    """A lifecycle transition that the transition table does not allow."""

    def __init__(self, agent: str, current: str, target: str, allowed: Iterable[str]) -> None:
        self.agent = agent
        self.current = current
        self.target = target
        self.allowed = sorted(allowed)
        super().__init__(
            f"agent {agent!r} cannot go from {current!r} to {target!r}; "
            f"allowed from {current!r}: {_names(self.allowed)}"
        )


class AgentUnavailableError(StatelineRuntimeError):
    """The agent exists but its lifecycle status does not accept work."""

    def __init__(self, agent: str, status: str) -> None:
        self.agent = agent
        self.status = status
        super().__init__(
            f"agent {agent!r} is {status}; `stateline agents activate {agent}` brings it back"
        )


class ThreadBusyError(StatelineRuntimeError):
    """Another run of ``thread_id`` is in progress."""

    def __init__(self, thread_id: str) -> None:
        self.thread_id = thread_id
        super().__init__(
            f"thread {thread_id!r} is already running a turn; wait for it to finish"
        )


class ThreadStateError(InvalidInputError):
    """The thread is not in a state that accepts this request (a message to a thread waiting
    for approval, a decision for a thread that is not waiting); ``status`` says what it is."""

    def __init__(self, thread_id: str, status: str, message: str) -> None:
        self.thread_id = thread_id
        self.status = status
        super().__init__(message)


class EncryptionKeyError(StorageError):
    """The encryption key is missing, malformed, or not the one the data was written with."""


class EffectInDoubtError(StatelineRuntimeError):
    """A side effect was started but its outcome was never recorded (the process died in between).

    It is not repeated automatically: ``stateline effects resolve`` marks it done (with its
    value) or allows a redo, then ``stateline recover`` finishes the turn.
    """

    def __init__(self, thread_id: str, scope: str, name: str, effect_id: str) -> None:
        self.thread_id = thread_id
        self.scope = scope
        self.name = name
        self.effect_id = effect_id
        super().__init__(
            f"effect {name!r} of thread {thread_id!r} is in doubt (started, outcome never recorded); "
            f"check it, then `stateline effects resolve {effect_id} --done [--value JSON]` or `--redo`"
        )


class ThreadInDoubtError(ThreadStateError):
    """The thread has a side effect in doubt: it refuses new messages (as a thread waiting for
    approval does) until an operator says whether the effect happened."""

    def __init__(self, thread_id: str, effect_ids: Iterable[str]) -> None:
        self.effect_ids = tuple(effect_ids)
        listed = ", ".join(self.effect_ids)
        super().__init__(
            thread_id, "in_doubt",
            f"thread {thread_id!r} has an effect in doubt ({listed}): it was started and its outcome was never "
            f"recorded. Check whether it happened, then `stateline effects resolve {self.effect_ids[0]} --done` "
            "(it happened) or `--redo` (it did not); the cut-short turn is then finished and new messages are accepted",
        )


class TurnNotAcceptedError(ThreadStateError):
    """The thread's previous accepted turn could not be finished now (it failed again with a
    transient error), so a new message is not accepted on top of it; nothing was stored."""

    def __init__(self, thread_id: str, detail: str) -> None:
        self.detail = detail
        super().__init__(
            thread_id, "failed",
            f"thread {thread_id!r} has an unfinished earlier turn that failed again ({detail}); this message was not "
            f"accepted. Send it again later, or `stateline recover --thread {thread_id}` once the cause is fixed",
        )


class WorkflowMismatchError(ThreadStateError):
    """The thread was started by another workflow (another set of agents) than this app serves."""

    def __init__(self, thread_id: str, recorded: str, serving: str | None) -> None:
        self.recorded = recorded
        self.serving = serving
        super().__init__(
            thread_id, "other_workflow",
            f"thread {thread_id!r} belongs to workflow {recorded!r}, but this app serves {serving!r}; open it with "
            f"that workflow's agents (its stateline.toml or --agents-file)",
        )


class UnknownEffectError(StatelineRuntimeError):
    """No recorded side effect has id ``effect_id``."""

    def __init__(self, effect_id: str) -> None:
        self.effect_id = effect_id
        super().__init__(f"unknown effect {effect_id!r}; `stateline effects list` shows the recorded ones")
