"""stateline.toml names the agents; operational commands never fall back to an example."""

from __future__ import annotations

import sqlite3

import pytest

from .project_kit import make_project, one_line_exit_2, run_cli, snapshot, user_env


def test_project_file_found_from_a_subfolder_without_pythonpath(tmp_path):
    root = make_project(tmp_path / "proj")
    deep = root / "docs" / "deep"
    result = run_cli(deep, "run", "-t", "n1", "note text: buy milk")
    assert result.returncode == 0, result.stderr
    assert "notes> saved buy milk" in result.stdout
    assert (root / "notes.db").exists() and not (deep / "notes.db").exists()  # db relative to the project file
    listed = run_cli(deep, "threads", "list", "--json")  # --json after the command
    assert '"workflow": "notebook"' in listed.stdout, listed.stderr
    # --agents-file from anywhere else names the same project
    other = run_cli(tmp_path, "--agents-file", str(root / "stateline.toml"), "run", "-t", "n2", "note text: eggs")
    assert "notes> saved eggs" in other.stdout, other.stderr


def test_stored_data_commands_never_use_an_example(tmp_path):
    """No project file, no --agents-file: operational commands refuse in one line and write nothing;
    inspecting commands read what is stored; no example table ever appears."""
    root = make_project(tmp_path / "proj")
    assert run_cli(root, "run", "-t", "n1", "note text: buy milk").returncode == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    db = root / "notes.db"
    url = f"sqlite:///{db}"
    before = snapshot(db)
    for args in (["recover"], ["worker", "--until-idle"], ["enqueue", "-t", "n1", "hi"], ["resume", "n1"],
                 ["effects", "resolve", "abc", "--redo"], ["agents", "pause", "notes"], ["run", "-t", "n1", "hi"]):
        one_line_exit_2(run_cli(elsewhere, "--db", url, *args), "no agents named")
    assert snapshot(db) == before
    shown = run_cli(elsewhere, "threads", "show", "n1", "--db", url, env=user_env(STATELINE_APPROVAL="x"))
    assert shown.returncode == 0 and "saved buy milk" in shown.stdout, shown.stderr
    assert "n1" in run_cli(elsewhere, "runs", "list", "--db", url).stdout
    assert snapshot(db) == before
    tables = {r[0] for r in sqlite3.connect(f"file:{db}?immutable=1", uri=True).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "threads" in tables and not {"catalog", "sales"} & tables


@pytest.mark.parametrize(
    ("agents", "message"),
    [
        ('["pydantic:BaseModel"]', "is the class BaseModel"),
        ('["mynotes:NOT_AN_AGENT"]', "is a int, not a stateline Agent"),
        ("[]", "lists no agents"),
        ('["mynotes:nothing_here"]', "has no attribute 'nothing_here'"),
        ('["no_such_module:x"]', "cannot import 'no_such_module'"),
    ],
)
def test_bad_project_entries_are_one_line(tmp_path, agents, message):
    root = make_project(tmp_path / "proj", agents=agents)
    one_line_exit_2(run_cli(root, "run", "-t", "t", "note text: x"), message)
    assert not (root / "notes.db").exists()


def test_threads_commands_take_agent_options_and_approval_from_the_project(tmp_path):
    root = make_project(tmp_path / "proj", extra='approval = ["notes"]\n')
    waiting = run_cli(root, "run", "-t", "w1", "note text: call mum")
    assert waiting.returncode == 0, waiting.stderr
    assert "notes waits for approval to act on: text='call mum'" in waiting.stdout
    assert "stateline resume w1 --approve" in waiting.stdout and "{'agent'" not in waiting.stdout
    shown = run_cli(tmp_path, "threads", "show", "w1", "--agents-file", str(root / "stateline.toml"))
    assert "w1" in shown.stdout and "waiting" in shown.stdout, shown.stderr
    done = run_cli(root, "resume", "w1", "--approve")
    assert "notes> saved call mum" in done.stdout, done.stderr
