"""The hook protocol graphs emit and ``lifecycle`` (or user code) implements.

Each hook is a one-method protocol with keyword-only arguments and ``**future_kwargs``
(as in Burr), so adding an argument later never breaks an existing hook. A hook object
may implement any subset of the methods; :class:`HookSet` calls only those present.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphBubbleUp

log = logging.getLogger("stateline.hooks")


@runtime_checkable
class RunStartedHook(Protocol):
    def run_started(self, *, run_id: str, thread_id: str, input: Any, **future_kwargs: Any) -> None: ...


@runtime_checkable
class RunFinishedHook(Protocol):
    def run_finished(
        self, *, run_id: str, thread_id: str, status: str, error: BaseException | None, **future_kwargs: Any
    ) -> None: ...


@runtime_checkable
class NodeStartedHook(Protocol):
    def node_started(
        self, *, run_id: str | None, thread_id: str, graph: str, node: str, **future_kwargs: Any
    ) -> None: ...


@runtime_checkable
class NodeFinishedHook(Protocol):
    def node_finished(
        self, *, run_id: str | None, thread_id: str, graph: str, node: str, duration_s: float, **future_kwargs: Any
    ) -> None: ...


@runtime_checkable
class NodeFailedHook(Protocol):
    def node_failed(
        self,
        *,
        run_id: str | None,
        thread_id: str,
        graph: str,
        node: str,
        error: BaseException,
        duration_s: float,
        **future_kwargs: Any,
    ) -> None: ...


@runtime_checkable
class NodeInterruptedHook(Protocol):
    def node_interrupted(
        self, *, run_id: str | None, thread_id: str, graph: str, node: str, **future_kwargs: Any
    ) -> None: ...


@runtime_checkable
class AgentSwitchedHook(Protocol):
    def agent_switched(
        self, *, run_id: str | None, thread_id: str, from_agent: str | None, to_agent: str, **future_kwargs: Any
    ) -> None: ...


HOOK_METHODS = (
    "run_started",
    "run_finished",
    "node_started",
    "node_finished",
    "node_failed",
    "node_interrupted",
    "agent_switched",
)


class HookSet:
    """The hooks registered on one app; calls each hook that has the method.

    Two kinds: *participants* (the framework's own tracking) come first and their errors
    propagate — a step whose event cannot be recorded fails, as the run would if its run
    row could not be written; *observers* (user hooks) are fail-open: a broken observer
    is logged and never breaks the conversation it observes.
    """

    def __init__(self, hooks: Iterable[object] = ()) -> None:
        self._hooks: list[object] = list(hooks)
        self._participants: list[object] = []

    def add_participant(self, hook: object) -> None:
        """Register framework tracking whose failures must stop the step (see the class docstring)."""
        self._participants.append(hook)

    def add(self, hook: object) -> None:
        if not any(callable(getattr(hook, m, None)) for m in HOOK_METHODS):
            from stateline.errors import SetupError

            raise SetupError(
                f"{type(hook).__name__} implements no hook method; define one of: {', '.join(HOOK_METHODS)}"
            )
        self._hooks.append(hook)

    def __bool__(self) -> bool:
        return bool(self._hooks or self._participants)

    def emit(self, method: str, **kwargs: Any) -> None:
        """Call ``method`` on every participant (errors propagate), then on every observer
        that has it (a failing observer is logged, never fatal)."""
        for hook in self._participants:
            fn = getattr(hook, method, None)
            if fn is not None:
                fn(**kwargs)
        for hook in self._hooks:
            fn = getattr(hook, method, None)
            if fn is None:
                continue
            try:
                fn(**kwargs)
            except Exception:  # noqa: BLE001
                log.exception("hook %s.%s failed", type(hook).__name__, method)


def _ids(config: RunnableConfig | None) -> tuple[str | None, str]:
    configurable = (config or {}).get("configurable") or {}
    return configurable.get("run_id"), str(configurable.get("thread_id", ""))


def instrument(graph: str, node: str, fn: Callable[..., Any], hooks: HookSet) -> Callable[..., Any]:
    """Wrap node ``fn`` so it reports started/finished/failed/interrupted to ``hooks``.

    ``fn`` takes ``(state, config, runtime)``. An interrupt or a ``Command`` bubbling up
    (``GraphBubbleUp``) is not a failure: it is reported as interrupted and re-raised.
    """

    def node_fn(state: Any, config: RunnableConfig, runtime: Any = None) -> Any:
        run_id, thread_id = _ids(config)
        ids = {"run_id": run_id, "thread_id": thread_id, "graph": graph, "node": node}
        hooks.emit("node_started", **ids)
        start = time.perf_counter()
        try:
            result = fn(state, config, runtime)
        except GraphBubbleUp:
            hooks.emit("node_interrupted", **ids)
            raise
        except Exception as exc:
            hooks.emit("node_failed", error=exc, duration_s=time.perf_counter() - start, **ids)
            raise
        hooks.emit("node_finished", duration_s=time.perf_counter() - start, **ids)
        return result

    node_fn.__name__ = node
    return node_fn
