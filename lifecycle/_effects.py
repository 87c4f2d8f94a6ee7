"""The durable effect ledger: side effects in ``act`` run at most once per key, or are reported in doubt.

``perform`` commits a ``started`` row before calling the function and a ``done`` row with
its JSON result after. When ``act`` re-runs after a crash, a ``done`` effect returns its
recorded result without running again; a ``started`` one (the process died between doing
and recording) raises EffectInDoubtError instead of silently repeating it. An operator
then marks it done (with its value) or allows a redo.
"""

from __future__ import annotations

import builtins
import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from stateline.checkpointing import Database, now
from stateline.nodes import EffectKey
from stateline.errors import EffectInDoubtError, InvalidInputError, UnknownEffectError

from ._hooks import call_hooks
from ._records import EffectRecord
from ._schema import ensure_schema

IN_DOUBT = "started"
_NOT_RUN = object()


def _record(db: Database, row: Any) -> EffectRecord:
    data = {k: db.decrypt(v) for k, v in dict(row).items()}
    raw = data.pop("result")
    return EffectRecord(result=None if raw is None else json.loads(raw), **data)


class DurableLedger:
    """Implements ``nodes.EffectLedger`` on the project database."""

    def __init__(
        self, db: Database, *, hooks: Iterable[object] = (), current_run: Callable[[str], str | None] | None = None
    ) -> None:
        self._db = db
        self._hooks = list(hooks)
        self._current_run = current_run or (lambda thread_id: None)
        ensure_schema(db)

    def add_hook(self, hook: object) -> None:
        """Register an object with ``on_effect(*, thread_id, run_id, effect_id, name, status)``."""
        self._hooks.append(hook)

    def _row(self, key: EffectKey) -> Any:
        return self._db.query_one(
            "SELECT * FROM effect_ledger WHERE thread_id = ? AND scope = ? AND name = ?",
            (key.thread_id, key.scope, key.name),
        )

    def _report(self, key: EffectKey, run_id: str | None, effect_id: str, status: str) -> None:
        call_hooks(self._hooks, "on_effect", thread_id=key.thread_id, run_id=run_id, effect_id=effect_id,
                   name=key.name, status=status)

    def perform(
        self, *, key: EffectKey, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        run_id = self._current_run(key.thread_id)
        effect_id, recorded = self._claim(key, run_id)
        if recorded is not _NOT_RUN:
            self._report(key, run_id, effect_id, "replayed")
            return recorded
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:  # it raised: it did not happen (KeyboardInterrupt & co. leave it in doubt)
            self._db.execute(
                "UPDATE effect_ledger SET status = 'failed', error = ?, finished_at = ? WHERE effect_id = ?",
                (self._db.encrypt(f"{type(exc).__name__}: {exc}"[:2000]), now(), effect_id),
            )
            self._report(key, run_id, effect_id, "failed")
            raise
        self._db.execute(
            "UPDATE effect_ledger SET status = 'done', result = ?, finished_at = ? WHERE effect_id = ?",
            (self._db.encrypt(json.dumps(result, default=str)), now(), effect_id),
        )
        self._report(key, run_id, effect_id, "done")
        return result

    def _claim(self, key: EffectKey, run_id: str | None) -> tuple[str, Any]:
        """Record ``started`` (committed): (effect id, _NOT_RUN); a done effect: (id, its result).

        An effect in doubt raises EffectInDoubtError.
        """
        for _ in range(5):
            row = self._row(key)
            if row is None:
                effect_id = uuid.uuid4().hex[:12]
                inserted = self._db.execute(
                    "INSERT INTO effect_ledger(effect_id, thread_id, scope, name, run_id, status, started_at) "
                    "VALUES (?, ?, ?, ?, ?, 'started', ?) ON CONFLICT(thread_id, scope, name) DO NOTHING",
                    (effect_id, key.thread_id, key.scope, key.name, run_id, now()),
                )
                if inserted:
                    self._report(key, run_id, effect_id, "started")
                    return effect_id, _NOT_RUN
                continue
            status, effect_id = row["status"], row["effect_id"]
            if status == "done":
                return effect_id, (json.loads(self._db.decrypt(row["result"])) if row["result"] is not None else None)
            if status == IN_DOUBT:
                self._report(key, run_id, effect_id, "in_doubt")
                raise EffectInDoubtError(key.thread_id, key.scope, key.name, effect_id)
            # failed (the function raised: it did not happen) or redo (an operator allowed it)
            taken = self._db.execute(
                "UPDATE effect_ledger SET status = 'started', run_id = ?, started_at = ?, error = NULL "
                "WHERE effect_id = ? AND status = ?",
                (run_id, now(), effect_id, status),
            )
            if taken:
                self._report(key, run_id, effect_id, "started")
                return effect_id, _NOT_RUN
        raise EffectInDoubtError(key.thread_id, key.scope, key.name, "?")  # pragma: no cover - contention

    # -- operator API ---------------------------------------------------------------------
    def list(
        self, *, thread_id: str | None = None, status: str | None = None, run_id: str | None = None
    ) -> list[EffectRecord]:
        """Recorded effects, oldest first; ``status='started'`` lists the ones in doubt."""
        sql, params = "SELECT * FROM effect_ledger WHERE 1 = 1", []
        for col, val in (("thread_id", thread_id), ("status", status), ("run_id", run_id)):
            if val is not None:
                sql += f" AND {col} = ?"
                params.append(val)
        return [_record(self._db, r) for r in self._db.query(sql + " ORDER BY started_at, effect_id", params)]

    def in_doubt(self, *, thread_id: str | None = None) -> builtins.list[EffectRecord]:
        """Effects started but never recorded as done or failed.

        Call this when no run is in flight (e.g. after ``recover``): an effect running right
        now also shows as started.
        """
        return self.list(thread_id=thread_id, status=IN_DOUBT)

    def has_in_doubt(self, thread_id: str) -> bool:
        """Whether ``thread_id`` has an effect in doubt (one indexed probe; see :meth:`in_doubt`)."""
        return self._db.query_one(
            "SELECT 1 FROM effect_ledger WHERE thread_id = ? AND status = ? LIMIT 1", (thread_id, IN_DOUBT)
        ) is not None

    def get(self, effect_id: str) -> EffectRecord:
        row = self._db.query_one("SELECT * FROM effect_ledger WHERE effect_id = ?", (effect_id,))
        if row is None:
            raise UnknownEffectError(effect_id)
        return _record(self._db, row)

    def resolve(self, effect_id: str, *, done: bool = False, value: Any = None, redo: bool = False,
                note: str | None = None) -> EffectRecord:
        """Settle an in-doubt effect: ``done=True`` (it happened; ``value`` is its result) or ``redo=True``."""
        if done == redo:
            raise InvalidInputError("resolve an in-doubt effect with exactly one of done=True or redo=True")
        current = self.get(effect_id)
        # a failed effect may be marked done too: its function raised, yet it had happened
        # (e.g. a redo refused as a duplicate); redo is only for effects in doubt
        if current.status not in ((IN_DOUBT, "failed") if done else (IN_DOUBT,)):
            raise InvalidInputError(f"effect {effect_id!r} is {current.status}, not in doubt; nothing to resolve")
        if done:
            changed = self._db.execute(
                "UPDATE effect_ledger SET status = 'done', result = ?, finished_at = ?, resolution = ? "
                "WHERE effect_id = ? AND status = ?",
                (self._db.encrypt(json.dumps(value, default=str)), now(),
                 self._db.encrypt(note or "marked done by operator"), effect_id, current.status),
            )
        else:
            changed = self._db.execute(
                "UPDATE effect_ledger SET status = 'redo', resolution = ? WHERE effect_id = ? AND status = 'started'",
                (self._db.encrypt(note or "redo allowed by operator"), effect_id),
            )
        if not changed:
            raise InvalidInputError(f"effect {effect_id!r} changed while resolving it; look again")
        return self.get(effect_id)
