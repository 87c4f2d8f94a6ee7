"""A second message to a running thread: 409 with the default policy, queued with `enqueue`."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.server_kit import ServerProcess, new_thread

AGENTS = str(Path(__file__).with_name("slow_agents.toml"))


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory):
    with ServerProcess(tmp_path_factory.mktemp("slow") / "slow.db", args=("--agents-file", AGENTS)) as srv:
        yield srv


def _in_background(client, path, body):
    box = {}
    worker = threading.Thread(target=lambda: box.setdefault("r", client.post(path, json=body)))
    worker.start()
    return worker, box


def _wait_running(client, tid):
    deadline = time.monotonic() + 10
    while client.get(f"/api/threads/{tid}").json()["status"] != "running":
        assert time.monotonic() < deadline, "the first turn never started"
        time.sleep(0.02)


def test_reject_policy_answers_409_while_running(slow_server):
    with slow_server.client("alice") as c, slow_server.client("alice") as c2:
        tid = new_thread(c)
        worker, box = _in_background(c, f"/api/threads/{tid}/messages", {"message": "nap seconds 1.5"})
        _wait_running(c2, tid)
        second = c2.post(f"/api/threads/{tid}/messages", json={"message": "nap seconds 0.1"})
        worker.join(20)
        assert second.status_code == 409 and second.json()["error"]["type"] == "ThreadBusyError"
        assert box["r"].json()["replies"] == [{"agent": "napper", "text": "Napped 1.5s."}]
        runs = c.get(f"/api/threads/{tid}/runs").json()["runs"]
        assert [r["input"] for r in runs] == ["nap seconds 1.5"]  # the rejected message left no trace


def test_enqueue_policy_runs_the_second_message_after_the_first(slow_server):
    with slow_server.client("alice") as c, slow_server.client("alice") as c2:
        tid = new_thread(c, policy="enqueue")
        worker, box = _in_background(c, f"/api/threads/{tid}/messages", {"message": "nap seconds 1"})
        _wait_running(c2, tid)
        second = c2.post(f"/api/threads/{tid}/messages", json={"message": "nap seconds 0.2"})
        worker.join(20)
        assert second.status_code == 200 and second.json()["replies"][0]["text"] == "Napped 0.2s."
        first_end = box["r"].json()["events"][-1]["offset"]
        assert second.json()["events"][0]["offset"] == first_end + 1
