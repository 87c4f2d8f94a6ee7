"""The durable effect ledger: record before, result after, replay, in doubt, resolve."""

from __future__ import annotations

import pytest

from stateline.checkpointing import open_database
from stateline.lifecycle import DurableLedger
from stateline.nodes import EffectKey
from stateline.errors import EffectInDoubtError, InvalidInputError, UnknownEffectError

KEY = EffectKey("t", "agent:1|act:2@3", "publish")


@pytest.fixture
def ledger(db_path):
    db = open_database(f"sqlite:///{db_path}")
    yield DurableLedger(db)
    db.close()


def test_done_effect_is_replayed_without_calling_fn(ledger) -> None:
    calls = []
    fn = lambda x: calls.append(x) or {"id": x}  # noqa: E731
    assert ledger.perform(key=KEY, fn=fn, args=("a",), kwargs={}) == {"id": "a"}
    assert ledger.perform(key=KEY, fn=fn, args=("b",), kwargs={}) == {"id": "a"}
    assert calls == ["a"]
    (record,) = ledger.list()
    assert (record.status, record.result) == ("done", {"id": "a"})


def test_started_but_unrecorded_effect_is_in_doubt_not_repeated(ledger, db_path) -> None:
    ledger._db.execute(
        "INSERT INTO effect_ledger(effect_id, thread_id, scope, name, status, started_at) "
        "VALUES ('e1', ?, ?, ?, 'started', 0)", (KEY.thread_id, KEY.scope, KEY.name))
    calls = []
    with pytest.raises(EffectInDoubtError, match="effects resolve e1"):
        ledger.perform(key=KEY, fn=calls.append, args=(1,), kwargs={})
    assert calls == [] and [e.effect_id for e in ledger.in_doubt()] == ["e1"]


def test_resolve_done_returns_the_given_value_and_redo_runs_again(ledger) -> None:
    for name, status in (("a", "started"), ("b", "started")):
        ledger._db.execute(
            "INSERT INTO effect_ledger(effect_id, thread_id, scope, name, status, started_at) "
            "VALUES (?, 't', 's', ?, ?, 0)",
            (name, name, status),
        )
    ledger.resolve("a", done=True, value="L-1")
    assert ledger.perform(key=EffectKey("t", "s", "a"), fn=lambda: "new", args=(), kwargs={}) == "L-1"
    ledger.resolve("b", redo=True)
    assert ledger.perform(key=EffectKey("t", "s", "b"), fn=lambda: "again", args=(), kwargs={}) == "again"
    assert ledger.in_doubt() == []


def test_resolve_refuses_bad_requests(ledger) -> None:
    ledger.perform(key=KEY, fn=lambda: 1, args=(), kwargs={})
    (record,) = ledger.list()
    with pytest.raises(InvalidInputError, match="not in doubt"):
        ledger.resolve(record.effect_id, done=True)
    with pytest.raises(InvalidInputError, match="exactly one"):
        ledger.resolve(record.effect_id, done=True, redo=True)
    with pytest.raises(UnknownEffectError):
        ledger.resolve("nope", redo=True)


def test_an_effect_that_raised_did_not_happen_and_may_run_again(ledger) -> None:
    def boom():
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        ledger.perform(key=KEY, fn=boom, args=(), kwargs={})
    assert ledger.list()[0].status == "failed"
    assert ledger.perform(key=KEY, fn=lambda: "ok", args=(), kwargs={}) == "ok"


def test_a_failed_effect_can_be_marked_done_but_not_redone(ledger) -> None:
    def duplicate():
        raise ValueError("UNIQUE constraint failed")  # it had happened before

    with pytest.raises(ValueError):
        ledger.perform(key=KEY, fn=duplicate, args=(), kwargs={})
    (record,) = ledger.list()
    with pytest.raises(InvalidInputError, match="not in doubt"):
        ledger.resolve(record.effect_id, redo=True)
    assert ledger.resolve(record.effect_id, done=True, value="L-9").status == "done"
    assert ledger.perform(key=KEY, fn=duplicate, args=(), kwargs={}) == "L-9"
