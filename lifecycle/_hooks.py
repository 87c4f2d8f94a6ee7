"""Lifecycle hook protocols user code can register (keyword-only arguments, ``**future_kwargs``).

Run, node and agent-switch hooks are the ``graphs`` protocols (re-exported here); the
lifecycle adds transitions and recorded effects. A hook object may implement any subset.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger("stateline.lifecycle")


@runtime_checkable
class TransitionHook(Protocol):
    """Called after an agent's status changed (the row is already committed)."""

    def on_transition(
        self, *, agent: str, from_status: str | None, to_status: str, reason: str, actor: str, at: float,
        **future_kwargs: Any,
    ) -> None: ...


@runtime_checkable
class EffectHook(Protocol):
    """Called after a side effect was recorded as started, done, failed or found in doubt."""

    def on_effect(
        self, *, thread_id: str, run_id: str | None, effect_id: str, name: str, status: str, **future_kwargs: Any
    ) -> None: ...


LIFECYCLE_HOOK_METHODS = ("on_transition", "on_effect")


def call_hooks(hooks: Iterable[object], method: str, **kwargs: Any) -> None:
    """Call ``method`` on each hook that has it; a failing hook is logged, never fatal."""
    for hook in list(hooks):
        fn = getattr(hook, method, None)
        if fn is None:
            continue
        try:
            fn(**kwargs)
        except Exception:  # noqa: BLE001 - an observer must not break what it observes
            log.exception("hook %s.%s failed", type(hook).__name__, method)
