"""The ``/api`` busy policy across two ``stateline serve`` replicas on one PostgreSQL database.

A message sent to replica B while replica A runs a turn on the same thread meets the thread
lease in the database, not either process's memory: ``reject`` answers 409 and leaves no
trace; ``enqueue`` waits until A's turn is done, then runs — each message exactly once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from tests.platform.conftest import SLOW_AGENTS
from tests.server_kit import ServerProcess, new_thread


@pytest.fixture(scope="module")
def replicas(pg_module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, ...]]:
    logs = tmp_path_factory.mktemp("api-replicas")
    a = ServerProcess(pg_module_url, args=("--agents-file", SLOW_AGENTS), log=logs / "a.log")
    b = ServerProcess(pg_module_url, args=("--agents-file", SLOW_AGENTS), log=logs / "b.log")
    try:
        starting = [threading.Thread(target=s.start, kwargs={"timeout": 90}) for s in (a, b)]
        for t in starting:  # both at once: most of a start is importing (migrations take a lock)
            t.start()
        for t in starting:
            t.join()
        assert a.proc is not None and b.proc is not None, "a replica did not start (see its log)"
        yield a, b
    finally:
        a.stop()
        b.stop()


def _on_a_in_background(a: ServerProcess, tid: str, text: str) -> tuple[threading.Thread, dict]:
    box: dict = {}

    def post() -> None:
        with a.client("alice") as c:
            box["r"] = c.post(f"/api/threads/{tid}/messages", json={"message": text}, timeout=60)

    worker = threading.Thread(target=post)
    worker.start()
    with a.client("alice") as c:
        deadline = time.monotonic() + 20
        while c.get(f"/api/threads/{tid}").json()["status"] != "running":
            assert time.monotonic() < deadline, "A's turn never started"
            time.sleep(0.02)
    return worker, box


def _inputs(srv: ServerProcess, tid: str) -> list[str]:
    with srv.client("alice") as c:
        return sorted(r["input"] for r in c.get(f"/api/threads/{tid}/runs").json()["runs"])


def test_busy_policy_holds_across_replicas(replicas) -> None:
    """reject: 409 on B (this half already held before /api's enqueue used the lease);
    enqueue: B waits for A's turn, then runs (it answered 409 while the policy lived in memory)."""
    _reject_on_replica_b_while_a_runs_the_thread(replicas)
    _enqueue_on_replica_b_waits_for_a_then_runs_once(replicas)


def _reject_on_replica_b_while_a_runs_the_thread(replicas) -> None:
    a, b = replicas
    with a.client("alice") as ca, b.client("alice") as cb:
        tid = new_thread(ca)
        worker, box = _on_a_in_background(a, tid, "nap seconds 1.5")
        second = cb.post(f"/api/threads/{tid}/messages", json={"message": "nap seconds 0.1"})
        worker.join(30)
    assert second.status_code == 409 and second.json()["error"]["type"] == "ThreadBusyError", second.text
    assert box["r"].json()["replies"] == [{"agent": "napper", "text": "Napped 1.5s."}]
    assert _inputs(b, tid) == ["nap seconds 1.5"]  # the rejected message never ran


def _enqueue_on_replica_b_waits_for_a_then_runs_once(replicas) -> None:
    a, b = replicas
    with a.client("alice") as ca, b.client("alice") as cb:
        tid = new_thread(ca, policy="enqueue")
        worker, box = _on_a_in_background(a, tid, "nap seconds 1.5")
        second = cb.post(f"/api/threads/{tid}/messages", json={"message": "nap seconds 0.2"}, timeout=60)
        worker.join(30)
        messages = ca.get(f"/api/threads/{tid}").json()
    assert second.status_code == 200, second.text
    assert second.json()["replies"] == [{"agent": "napper", "text": "Napped 0.2s."}]
    first = box["r"].json()
    assert first["replies"] == [{"agent": "napper", "text": "Napped 1.5s."}]
    assert second.json()["events"][0]["offset"] > first["events"][-1]["offset"]  # after A's turn, not inside it
    assert _inputs(a, tid) == ["nap seconds 0.2", "nap seconds 1.5"]  # each message ran once
    assert messages["thread_id"] == tid
