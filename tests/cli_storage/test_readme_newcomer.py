"""The README is enough for a newcomer: its examples run as written (issue 15)."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.core.cli_helpers import ROOT
from tests.server_kit import free_port

from .project_kit import user_env

README = (ROOT / "README.md").read_text()


def blocks(lang: str, text: str = README) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def section(heading: str) -> str:
    start = README.index(f"\n{heading}\n")
    end = README.find("\n## ", start + len(heading) + 2)
    return README[start : end if end > 0 else None]


def test_every_python_example_with_asserts_runs(tmp_path, monkeypatch):
    checked = [b for b in blocks("python") if "assert " in b]
    assert len(checked) >= 4  # extractor, transient errors, decisions, encryption
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STATELINE_AES_KEY", raising=False)
    for i, source in enumerate(checked):
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, f"README.md python block {i}", "exec", dont_inherit=True), {})


def test_readme_names_every_point_a_newcomer_asked_about():
    for needle in ("`field: value`", "`order id`", "transient", "recover --thread T --retry-failed", "64 hex digits",
                   "token_hex(32)", "at least 8 characters", "token_urlsafe", "created before it is messaged",
                   "20,000 characters", '{"action": "edit", "fields"', "## From plain LangGraph", "stateline init NAME",
                   "no `PYTHONPATH`"):
        assert needle in README, needle


def _shell(line: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", line], cwd=cwd, env=user_env(), capture_output=True, text=True, timeout=300)


def test_from_an_empty_folder_to_a_passing_test_with_init_and_the_readme(tmp_path):
    """Exactly the commands of "Your own project", in an empty folder, with only stateline installed."""
    cwd = tmp_path
    lines = [ln for ln in blocks("sh", section("## Your own project"))[0].splitlines() if ln.strip()]
    assert lines[0].startswith("stateline init ")
    for line in lines:
        command, _, expect = line.partition("#")
        if command.strip().startswith("cd "):
            cwd = cwd / command.strip()[3:].strip()
            continue
        result = _shell(command, cwd)
        assert result.returncode == 0, (line, result.stdout, result.stderr)
        shown = expect.strip()
        if ">" in shown.split(" ", 1)[0]:  # "# orders> the reply": the reply printed
            assert shown in result.stdout, (line, result.stdout)
    assert "passed" in result.stdout and (cwd / "stateline.toml").exists()


def test_the_key_and_token_one_liners_make_valid_secrets(tmp_path):
    key_line = next(ln for ln in README.splitlines() if "token_hex(32)" in ln and ln.startswith("python"))
    key = _shell(key_line, tmp_path).stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    token_line = re.search(r"`(python -c 'import secrets; print\(secrets.token_urlsafe\(24\)\)')`", README).group(1)
    assert len(_shell(token_line, tmp_path).stdout.strip()) >= 8


def test_the_http_example_creates_the_thread_then_messages_it(tmp_path):
    block = blocks("sh", section("## HTTP server"))[1]
    port = str(free_port())
    commands = [c.replace("8321", port) for c in block.replace("\\\n", " ").splitlines() if c.strip()]
    serve = commands[0].rstrip(" &")
    server = subprocess.Popen(["bash", "-c", f"exec env {serve}"], cwd=tmp_path, env=user_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        headers = {"Authorization": "Bearer a-long-secret-token"}
        early = httpx.post(f"http://127.0.0.1:{port}/api/threads/t0/messages", json={"message": "hi"}, headers=headers)
        assert early.status_code == 404  # never created
        created = _shell(commands[1].split("#")[0] + " -w '\\n%{http_code}'", tmp_path).stdout
        assert created.strip().endswith("201"), created
        replied = _shell(commands[2].split("#")[0], tmp_path).stdout
        assert "Total revenue for toys: $975.00." in replied
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert sys.executable  # the server ran on this interpreter's environment (PATH from user_env)
