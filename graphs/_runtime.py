"""The two places where stateline reaches into LangGraph's private run machinery.

Both are measured costs of a turn (``bench/storefront_turn.py``), both are private
LangGraph names, so they live here together, checked against the LangGraph
version they were written for. On another version both fall back to stock
LangGraph behaviour (slower, never less correct).

1. **Checkpoint saves run in the calling thread** (:func:`install`). LangGraph's
   ``BackgroundExecutor`` enters ``get_executor_for_config(config)`` on every
   invoke: a *new* thread pool per graph run, subgraph runs included, and every
   checkpoint ``put`` / ``put_writes`` is handed to a fresh thread, even with
   ``durability="sync"``, where the loop then just waits for it. A storefront turn
   started ~6 OS threads and handed ~20 saves across threads. For runs that carry
   :data:`RUN_KEY` in their configurable (stateline's own: :func:`run_config`) and
   run ``durability="sync"``, saves run inline instead, in the order LangGraph
   submits them; anything else (parallel node tasks, other durabilities) goes to
   the stock per-run pool, created only when first needed. Plain LangGraph graphs
   in the same process never carry the key and are untouched.
2. **Agent subgraphs without checkpoints** (:func:`transient_config`). An agent
   subgraph compiled with ``checkpointer=False`` inherits ``durability="sync"``
   from its parent's config and then fails in LangGraph 1.2.x
   (``'SyncPregelLoop' object has no attribute '_put_checkpoint_fut'``); the
   supervisor invokes such subgraphs with the durability key set to ``"exit"``
   (which, without a checkpointer, stores nothing). On another LangGraph the
   supervisor keeps checkpointed agent subgraphs instead.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from importlib.metadata import version
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver

from stateline.checkpointing import SHARED_READ_KEY

log = logging.getLogger("stateline.runtime")

SUPPORTED = ("1.2.",)
"""LangGraph versions whose private names below were read and tested."""
RUN_KEY = SHARED_READ_KEY
"""Marks a run as stateline's; ``__`` keeps it out of checkpoint metadata."""
_DURABILITY_KEY = "__pregel_durability"
"""``langgraph._internal._constants.CONFIG_KEY_DURABILITY`` (checked in :func:`supported`)."""
_SAVE_METHODS = frozenset({"_checkpointer_put_after_previous"})
"""Loop methods that only save a checkpoint; a saver's own bound methods count too."""


@functools.cache
def supported() -> bool:
    """Whether this LangGraph is one whose private names this module was written against."""
    try:
        from langgraph._internal._constants import CONFIG_KEY_DURABILITY
        from langgraph.pregel import _executor
    except ImportError:
        return False
    return (
        version("langgraph").startswith(SUPPORTED)
        and CONFIG_KEY_DURABILITY == _DURABILITY_KEY
        and callable(getattr(_executor, "get_executor_for_config", None))
    )


def run_config(configurable: dict[str, Any]) -> RunnableConfig:
    """A config for one of stateline's graph runs: ``configurable`` plus :data:`RUN_KEY`."""
    return {"configurable": {**configurable, RUN_KEY: True}}


def transient_config(config: RunnableConfig) -> RunnableConfig:
    """``config`` for invoking a subgraph compiled with ``checkpointer=False`` from a node."""
    configurable = dict(config.get("configurable") or {})
    configurable[_DURABILITY_KEY] = "exit"
    return {**config, "configurable": configurable}


def _is_save(fn: Callable[..., Any]) -> bool:
    owner = getattr(fn, "__self__", None)
    return isinstance(owner, BaseCheckpointSaver) or getattr(fn, "__name__", "") in _SAVE_METHODS


class RunExecutor(concurrent.futures.Executor):
    """One stateline graph run's executor: saves inline, other work on a lazily made pool."""

    def __init__(self, config: RunnableConfig, stock: Callable[[RunnableConfig], Any], inline_saves: bool) -> None:
        self._config = config
        self._stock = stock
        self._inline_saves = inline_saves
        self._stack = ExitStack()
        self._pool: concurrent.futures.Executor | None = None

    @property
    def started_pool(self) -> bool:
        """Whether some work needed real threads (tests check saves never do)."""
        return self._pool is not None

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        """Run a save now, in this thread; hand anything else to the run's thread pool.

        LangGraph wraps each call as ``ctx.run(fn, ...)`` (a context copy), so the
        function to classify is the first argument.
        """
        target = args[0] if args and getattr(fn, "__name__", "") == "run" else fn
        if self._inline_saves and _is_save(target):
            future: concurrent.futures.Future = concurrent.futures.Future()
            try:
                future.set_result(fn(*args, **kwargs))
            except Exception as exc:  # noqa: BLE001 - handed to the loop exactly as from a thread
                future.set_exception(exc)
            return future  # KeyboardInterrupt & co. propagate here, in the caller's thread
        if self._pool is None:
            self._pool = self._stack.enter_context(self._stock(self._config))
        return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._stack.close()


_installed: list[bool] = []
"""Whether :func:`install` patched LangGraph, once it ran."""
_install_lock = threading.Lock()


def install() -> bool:
    """Route stateline's runs through :class:`RunExecutor` (idempotent); False if unsupported."""
    with _install_lock:
        if not _installed:
            ok = supported()
            if ok:
                _patch()
            else:
                log.warning("langgraph %s is not one of %s: stateline runs use LangGraph's stock executor",
                            version("langgraph"), SUPPORTED)
            _installed.append(ok)
        return _installed[0]


def _patch() -> None:
    from langgraph.pregel import _executor

    stock = _executor.get_executor_for_config

    @contextmanager
    def executor_for_config(config: RunnableConfig | None) -> Iterator[concurrent.futures.Executor]:
        configurable = (config or {}).get("configurable") or {}
        if not configurable.get(RUN_KEY):
            with stock(config) as executor:
                yield executor
            return
        executor = RunExecutor(config or {}, stock, configurable.get(_DURABILITY_KEY) == "sync")
        try:
            yield executor
        finally:
            executor.shutdown()

    executor_for_config.stateline = True  # type: ignore[attr-defined]
    _executor.get_executor_for_config = executor_for_config
