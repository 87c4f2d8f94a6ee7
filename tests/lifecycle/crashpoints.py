"""Test-only crash injection: SIGKILL this process at a named point (no production code involved).

Points: ``run:started`` (run row written, graph not yet invoked), ``node:<name>`` /
``node:<name>:after`` (graph hooks), ``effect:<name>:before`` / ``effect:<name>:after``
(around the side effect, inside the ledger's record/done pair), ``checkpoint:put`` /
``checkpoint:put:after`` / ``checkpoint:writes`` / ``checkpoint:commit`` (around and inside
the saver's writes). A plan fires at the ``nth`` time its point is reached. The plan can also
come from ``STATELINE_CRASH_AT=point[#nth]``.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

CRASH_ENV = "STATELINE_CRASH_AT"


@dataclass
class CrashPlan:
    point: str | None
    nth: int = 1

    @classmethod
    def from_env(cls) -> CrashPlan:
        raw = os.environ.get(CRASH_ENV, "")
        point, _, nth = raw.partition("#")
        return cls(point or None, int(nth or 1))


class Crasher:
    """Counts points as they are reached and SIGKILLs the process at the planned one."""

    def __init__(self, plan: CrashPlan) -> None:
        self.plan = plan
        self.counts: dict[str, int] = {}

    def hit(self, point: str) -> None:
        n = self.counts.get(point, 0) + 1
        self.counts[point] = n
        if point == self.plan.point and n == self.plan.nth:
            os.kill(os.getpid(), signal.SIGKILL)

    # -- graph hooks (register on App.hooks or a HookSet) ---------------------------------
    def run_started(self, **_: Any) -> None:
        self.hit("run:started")

    def node_started(self, *, node: str, **_: Any) -> None:
        self.hit(f"node:{node}")

    def node_finished(self, *, node: str, **_: Any) -> None:
        self.hit(f"node:{node}:after")

    def wrap_effect(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` with kill points just before and just after it (the latter before it is recorded)."""

        def effect(*args: Any, **kwargs: Any) -> Any:
            self.hit(f"effect:{name}:before")
            result = fn(*args, **kwargs)
            self.hit(f"effect:{name}:after")
            return result

        return effect

    def patch_saver(self, saver: Any) -> None:
        """Kill points around the saver's writes and, for SQLite savers, between write and commit."""
        put, put_writes = saver.put, saver.put_writes

        def crashing_put(*args: Any, **kwargs: Any) -> Any:
            self.hit("checkpoint:put")
            result = put(*args, **kwargs)
            self.hit("checkpoint:put:after")
            return result

        def crashing_put_writes(*args: Any, **kwargs: Any) -> Any:
            self.hit("checkpoint:writes")
            return put_writes(*args, **kwargs)

        saver.put, saver.put_writes = crashing_put, crashing_put_writes
        transaction = getattr(saver, "_transaction", None)  # StatelineSqliteSaver (test-only reach-in)
        if transaction is not None:

            @contextmanager
            def crashing_transaction(*, write: bool, durable: bool = True, **more: Any) -> Any:
                with transaction(write=write, durable=durable, **more) as cur:
                    yield cur
                    if write:
                        self.hit("checkpoint:commit")  # rows written, transaction not yet committed

            saver._transaction = crashing_transaction
        cursor = getattr(saver, "cursor", None)  # LangGraph's SqliteSaver
        if cursor is None:
            return

        @contextmanager
        def crashing_cursor(transaction: bool = True) -> Any:
            with cursor(transaction) as cur:
                yield cur
                if transaction:
                    self.hit("checkpoint:commit")  # rows written, transaction not yet committed

        saver.cursor = crashing_cursor


class CrashingLedger:
    """Wraps an EffectLedger so each effect function carries the crasher's kill points."""

    def __init__(self, inner: Any, crasher: Crasher) -> None:
        self._inner = inner
        self._crasher = crasher

    def perform(self, *, key: Any, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        base = key.name.split("#")[0]
        return self._inner.perform(key=key, fn=self._crasher.wrap_effect(base, fn), args=args, kwargs=kwargs)


def install(app: Any, plan: CrashPlan) -> Crasher:
    """Arm ``app`` (a stateline App, before its first turn) with ``plan``'s kill point."""
    crasher = Crasher(plan)
    app.hooks.add(crasher)
    app.ledger = CrashingLedger(app.ledger, crasher)
    crasher.patch_saver(app.database.saver)
    app._graph = None
    return crasher
