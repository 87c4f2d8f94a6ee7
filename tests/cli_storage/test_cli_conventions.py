"""CLI conventions (issue 15): options anywhere, id prefixes, short reports of user-code errors,
the reply of a recovered turn, lazy imports, progress of long operations."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys

from stateline._session import open_session

from .project_kit import make_project, one_line_exit_2, run_cli, user_env


def test_global_options_before_or_after_the_command(tmp_path):
    root = make_project(tmp_path / "proj")
    assert run_cli(root, "run", "-t", "n1", "note text: milk", "--json").returncode == 0
    url = f"sqlite:///{root / 'notes.db'}"
    after = run_cli(tmp_path, "threads", "show", "n1", "--json", "--db", url)
    before = run_cli(tmp_path, "--json", "--db", url, "threads", "show", "n1")
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout) == json.loads(before.stdout)
    assert json.loads(after.stdout)["messages"][1]["text"] == "saved milk"


def test_run_ids_by_unique_prefix_and_ambiguous_prefix_lists_matches(tmp_path):
    url = f"sqlite:///{tmp_path}/p.db"
    with open_session(db=url, example="storefront") as app:
        app.send("t1", "total revenue for toys", run_id="feed0001aa")
        app.send("t1", "total units for books", run_id="feed0002bb")
    shown = run_cli(tmp_path, "--db", url, "--json", "runs", "show", "feed0002")
    assert shown.returncode == 0 and json.loads(shown.stdout)["run"]["run_id"] == "feed0002bb", shown.stderr
    result = run_cli(tmp_path, "--db", url, "runs", "show", "feed")
    one_line_exit_2(result, "run id prefix 'feed' is ambiguous")
    assert "feed0001aa" in result.stderr and "feed0002bb" in result.stderr
    one_line_exit_2(run_cli(tmp_path, "--db", url, "runs", "show", "nope"), "unknown run 'nope'")


def test_an_exception_in_user_code_is_a_short_report(tmp_path):
    root = make_project(tmp_path / "proj")
    result = run_cli(root, "run", "-t", "q1", "question topic: boom")
    assert result.returncode == 1
    report = result.stderr.strip().splitlines()
    assert len(report) <= 7, result.stderr
    assert report[0] == "error in your code: ValueError: the answer machine broke"
    assert f"{root / 'mynotes.py'}:" in report[1] and "in answer" in report[1]
    run_id = json.loads(run_cli(root, "--json", "runs", "list").stdout)[0]["run_id"]
    assert f"run {run_id} of thread q1 is recorded as failed" in result.stderr
    assert "stateline recover --thread q1 --retry-failed" in result.stderr
    assert "Traceback" not in result.stderr and "langgraph" not in result.stderr
    verbose = run_cli(root, "run", "-t", "q2", "question topic: boom", "--verbose")
    assert "Traceback (most recent call last)" in verbose.stderr and "the answer machine broke" in verbose.stderr


def test_the_reply_of_a_turn_recovered_by_run_is_printed(tmp_path):
    root = make_project(tmp_path / "proj")
    crashed = run_cli(root, "run", "-t", "c1", "question topic: crash")
    assert crashed.returncode == -9, crashed.stderr  # killed mid-turn
    result = run_cli(root, "run", "-t", "c1", "note text: after the crash")
    assert result.returncode == 0, result.stderr
    assert "answers> about crash: 42" in result.stdout  # the cut-short turn's reply, finished now
    assert "notes> saved after the crash" in result.stdout


def test_help_imports_no_langgraph_and_the_api_still_imports(tmp_path):
    code = ("import sys; from stateline.cli import app; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'langgraph', 'langchain_core', 'pydantic'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=user_env(), check=True)
    assert out.stdout.strip() == "[]", out.stdout
    api = "from stateline import App, Agent, Turn, StatelineError, open_database, parse_event; print(App.__name__)"
    assert (
        subprocess.run([sys.executable, "-c", api], capture_output=True, text=True, check=True).stdout.strip() == "App"
    )
    helped = run_cli(tmp_path, "--help")
    assert helped.returncode == 0 and "init" in helped.stdout and "threads" in helped.stdout


def test_long_operations_report_progress_on_stderr(tmp_path):
    url = f"sqlite:///{tmp_path}/big.db"
    with open_session(db=url, example="storefront") as app:
        for i in range(3):
            app.send("t1", f"total revenue for toys {i}")
    pruned = run_cli(tmp_path, "--db", url, "--json", "prune", "--keep-last", "1", "--vacuum")
    assert pruned.returncode == 0 and json.loads(pruned.stdout)["vacuumed"], pruned.stderr
    assert "prune: vacuuming" in pruned.stderr and "prune: vacuumed in" in pruned.stderr
    rekeyed = run_cli(tmp_path, "--db", url, "rekey", "--new-key", secrets.token_hex(32))
    assert rekeyed.returncode == 0, rekeyed.stderr
    assert "rekey: re-encrypting" in rekeyed.stderr and "rekey: done in" in rekeyed.stderr


def test_init_refuses_a_folder_that_is_not_empty(tmp_path):
    assert run_cli(tmp_path, "init", "shop").returncode == 0
    before = sorted(p.name for p in (tmp_path / "shop").iterdir())
    one_line_exit_2(run_cli(tmp_path, "init", "shop"), "already exists and is not an empty folder")
    assert sorted(p.name for p in (tmp_path / "shop").iterdir()) == before
    assert "shop_agents:orders" in (tmp_path / "shop" / "stateline.toml").read_text()
