"""``stateline export-graph``: the project's agents under the real ``langgraph dev`` server
(langgraph-cli[inmem]), with stateline's saver and store on the project's SQLite file, and on
PostgreSQL (``--db`` given to export-graph).

One ``langgraph dev --no-browser`` process on 127.0.0.1 per backend, driven with the real
``langgraph-sdk`` client; what it stored is read back with stateline's own API.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_sync_client

from stateline import App
from tests.server_kit import free_port

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.skipif(
    shutil.which("langgraph", path=str(BIN)) is None, reason="langgraph-cli[inmem] not installed (.[platform-dev])"
)


def _stateline(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "STATELINE_DB"}
    return subprocess.run([str(BIN / "stateline"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60)


def _exported(root: Path, db: str | None = None) -> Path:
    assert _stateline("init", "shop", cwd=root).returncode == 0
    folder = root / "shop"
    toml = folder / "stateline.toml"  # support waits for a person's approval before acting
    toml.write_text(toml.read_text().replace("approval = []", 'approval = ["support"]'))
    made = _stateline(*(("--db", db) if db else ()), "export-graph", "--agent", "orders", cwd=folder)
    assert made.returncode == 0, made.stderr
    return folder


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str | None:
    """None: the project file's own SQLite file (shop.db); else a fresh PostgreSQL schema given to export-graph."""
    return None if request.param == "sqlite" else request.getfixturevalue("pg_module_url")


@pytest.fixture(scope="module")
def project(db_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project `langgraph dev` serves."""
    return _exported(tmp_path_factory.mktemp("lgdev"), db_url)


@pytest.fixture(scope="module")
def idle_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An exported project nothing runs in (its files only change if export-graph writes)."""
    return _exported(tmp_path_factory.mktemp("lgidle"))


@pytest.fixture(scope="module")
def langgraph_dev(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("lglog") / "langgraph-dev.log"
    env = {**{k: v for k, v in os.environ.items() if k != "STATELINE_DB"}, "STATELINE_PROVIDER": "offline",
           "LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGSMITH_TRACING": "false"}
    log = open(log_path, "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [str(BIN / "langgraph"), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port)],
        cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "langgraph dev did not come up in 90 s"
            try:
                if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the process group this fixture started
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        log.close()


def say(text: str) -> dict:
    return {"messages": [{"role": "user", "content": text}]}


def test_export_writes_langgraph_json_with_stateline_saver(project: Path) -> None:
    spec = json.loads((project / "langgraph.json").read_text())
    module = "./stateline_langgraph.py"
    assert spec["graphs"] == {"shop": f"{module}:graph", "orders": f"{module}:agent_orders"}
    assert spec["checkpointer"] == {"path": "./stateline_langgraph.py:checkpointer"}
    assert spec["store"] == {"path": "./stateline_langgraph.py:store"}


def test_a_conversation_under_langgraph_dev_lands_in_the_stateline_database(
    langgraph_dev: str, project: Path, db_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = get_sync_client(url=langgraph_dev)
    assert sorted(a["graph_id"] for a in client.assistants.search()) == ["orders", "shop"]
    tid = client.threads.create()["thread_id"]
    parts = list(client.runs.stream(tid, "shop", input=say("I'd like to order: item teapot, quantity 2"),
                                    stream_mode=["values"]))
    asked = "To place orders, I still need: size (one of small, medium, large)."
    assert parts[-1].data["messages"][-1]["content"] == asked
    done = client.runs.wait(tid, "shop", input=say("size large"))
    assert done["messages"][-1]["content"] == "Ordered 2 large teapot."

    monkeypatch.syspath_prepend(str(project))  # the project's agents module, for stateline's own App
    db = db_url or f"sqlite:///{project / 'shop.db'}"
    with App(agents_file=project / "stateline.toml", db=db) as app:
        view = app.state(tid)  # stateline's saver wrote it: the same file `stateline serve` would use
        assert [(m.role, m.text) for m in view.messages][-2:] == [
            ("user", "size large"), ("assistant", "Ordered 2 large teapot.")
        ]
        info = {t.thread_id: t for t in app.list_threads()}[tid]  # in the thread index too
        assert info.turns == 2 and info.workflow == "shop"
    listed = _stateline("--json", "--db", db, "effects", "list", cwd=project)
    effects = [e for e in json.loads(listed.stdout) if e["thread_id"] == tid]
    assert [(e["name"], e["status"]) for e in effects] == [("reserve", "done")]  # through the durable ledger


def test_one_agent_alone_is_a_graph_of_its_own(langgraph_dev: str) -> None:
    client = get_sync_client(url=langgraph_dev)
    tid = client.threads.create()["thread_id"]
    done = client.runs.wait(tid, "orders", input=say("order: item cup, quantity 1, size small"))
    assert done["messages"][-1]["content"] == "Ordered 1 small cup."


def test_approval_waits_and_command_resume_approves(langgraph_dev: str) -> None:
    client = get_sync_client(url=langgraph_dev)
    tid = client.threads.create()["thread_id"]
    waiting = client.runs.wait(tid, "shop", input=say("help: email ann@example.com, problem the lid broke"))
    [interrupt] = waiting["__interrupt__"]
    assert interrupt["value"]["agent"] == "support" and interrupt["value"]["draft"]["email"] == "ann@example.com"
    assert client.threads.get(tid)["status"] == "interrupted"
    done = client.runs.wait(tid, "shop", command={"resume": {"action": "approve"}})
    assert done["messages"][-1]["content"].endswith("opened; we will write to ann@example.com.")


@pytest.mark.parametrize(
    "args, where, expected",
    [
        (("export-graph",), "empty", "export-graph needs a project"),
        (("export-graph", "--agent", "nope"), "project", "unknown agent 'nope'"),
        (("export-graph",), "project", "already exists: pass --force"),
        (("--example", "storefront", "export-graph"), "empty", "not the built-in example"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(idle_project: Path, tmp_path: Path, args, where, expected):
    folder = tmp_path if where == "empty" else idle_project
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    done = _stateline(*args, cwd=folder)
    assert done.returncode == 2 and expected in done.stderr and len(done.stderr.strip().splitlines()) == 1, done
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
