"""``append_messages`` gives exactly ``add_messages``' result (issue 12: no re-merge of the whole history)."""

from __future__ import annotations

import random

import pytest
from langchain_core.messages import AIMessage, HumanMessage, RemoveMessage
from langgraph.graph.message import REMOVE_ALL_MESSAGES, add_messages
from stateline.nodes._messages import _IDS, append_messages


def _shape(messages):
    return [(type(m).__name__, m.id, m.content) for m in messages]


def _step(rng: random.Random, current: list, i: int):
    """A random update: new messages, a replacement by id, a removal, a dict, or remove-all."""
    kind = rng.choice(["new", "new", "new", "replace", "remove", "dict", "dup", "all"] if current else ["new"])
    if kind == "new":
        return [HumanMessage(f"h{i}"), AIMessage(f"a{i}", id=None if rng.random() < 0.5 else f"x{i}")]
    if kind == "replace":
        return [AIMessage(f"edited {i}", id=rng.choice(current).id)]
    if kind == "remove":
        return [RemoveMessage(id=rng.choice(current).id)]
    if kind == "dict":
        return [{"role": "user", "content": f"d{i}", "id": f"dict{i}"}]
    if kind == "dup":
        return [AIMessage(f"one {i}", id=f"d{i}"), AIMessage(f"two {i}", id=f"d{i}")]
    return [RemoveMessage(id=REMOVE_ALL_MESSAGES), HumanMessage(f"fresh {i}", id=f"f{i}")]


@pytest.mark.parametrize("seed", range(20))
def test_a_list_it_has_not_seen_gives_add_messages_result(seed: int) -> None:
    """Lists read back from a checkpoint (new list objects, maybe with chunks or messages
    without ids) merge exactly as ``add_messages`` merges them."""
    from langchain_core.messages import AIMessageChunk

    rng = random.Random(seed)
    theirs: list = []
    for i in range(40):
        left = [m.model_copy() for m in theirs]  # what a reader gets: objects the reducer never saw
        if left and rng.random() < 0.2:
            left[rng.randrange(len(left))] = AIMessageChunk(f"chunk {i}", id=f"c{i}")
        if rng.random() < 0.1:
            left.append(HumanMessage(f"no id {i}"))
        update = _step(rng, [m for m in left if m.id], i)
        ours = append_messages([m.model_copy() for m in left], update)
        copy = [m.model_copy() if hasattr(m, "model_copy") else dict(m) for m in update]
        expected = add_messages([m.model_copy() for m in left], copy)
        assert [(type(m).__name__, m.content) for m in ours] == [(type(m).__name__, m.content) for m in expected]
        given = [m.id for m in left] + [getattr(m, "id", None) or (m.get("id") if isinstance(m, dict) else None)
                                         for m in update]
        assert all(a.id == b.id for a, b in zip(ours, expected, strict=True) if a.id in given)
        theirs = expected


@pytest.mark.parametrize("seed", range(20))
def test_same_result_as_add_messages_for_any_sequence_of_updates(seed: int) -> None:
    rng = random.Random(seed)
    ours: list = []
    theirs: list = []
    for i in range(60):
        update = _step(rng, theirs, i)
        ours = append_messages(ours, update)  # gives ids in place first: the copies carry the same
        copy = [m.model_copy() if hasattr(m, "model_copy") else dict(m) for m in update]
        theirs = add_messages(theirs, copy)
        assert _shape(ours) == _shape(theirs)


def test_an_id_already_in_the_list_replaces_it_even_on_the_fast_path() -> None:
    msgs = append_messages([], [HumanMessage("a", id="1"), AIMessage("b", id="2")])
    msgs = append_messages(msgs, [HumanMessage("c")])  # appended on the fast path
    msgs = append_messages(msgs, [AIMessage("B", id="2")])
    assert _shape(msgs)[1] == ("AIMessage", "2", "B") and len(msgs) == 3


def test_appending_to_a_list_it_made_remembers_the_new_list_only() -> None:
    msgs = append_messages([], [HumanMessage(str(i)) for i in range(100)])
    longer = append_messages(msgs, [AIMessage("reply")])
    assert id(longer) in _IDS and id(msgs) not in _IDS  # the ids moved on with the list
    again = append_messages(msgs, [AIMessage("other")])  # the old list once more: add_messages decides
    assert len(again) == 101 and len(longer) == 101 and again[-1].content == "other"
