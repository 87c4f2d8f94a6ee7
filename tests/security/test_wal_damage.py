"""A damaged -wal is reported (typed error, exit 2) and no byte of the database changes (issue 11)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from stateline.checkpointing import open_database
from stateline.checkpointing._walcheck import HEADER, check_wal
from stateline.errors import CorruptWalError

from tests.server_kit import ROOT

WRITER = """
import sys, time
from stateline._session import open_session
s = open_session(db=sys.argv[1], example="storefront")
for i in range(3):
    s.send(f"t{i}", "I'd like to order: item teapot, quantity 2", user_id="u")
print("ready", flush=True)
time.sleep(120)
"""


def cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stateline", "--db", f"sqlite:///{db}", *args], check=False, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def crashed(tmp_path_factory) -> Path:
    """A database whose three threads live only in its -wal: the writer was SIGKILLed."""
    folder = tmp_path_factory.mktemp("crashed")
    db = folder / "app.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, f"sqlite:///{db}"], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert Path(f"{db}-wal").stat().st_size > HEADER
    return folder


def copy_of(crashed: Path, tmp_path: Path) -> Path:
    for f in crashed.iterdir():
        shutil.copy(f, tmp_path / f.name)
    return tmp_path / "app.db"


def digests(db: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in db.parent.iterdir() if p.name.startswith(db.name)}


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_sound_wal_opens_and_its_threads_are_there(crashed, tmp_path):
    db = copy_of(crashed, tmp_path)
    report = check_wal(db)
    assert report is not None and report.commits > 0
    done = cli(db, "--json", "threads", "list")
    assert done.returncode == 0, done.stderr
    assert sorted(t["thread_id"] for t in json.loads(done.stdout)) == ["t0", "t1", "t2"]


def _page_size(wal: Path) -> int:
    return int.from_bytes(wal.read_bytes()[8:12], "big")


DAMAGE = {
    "bad header": lambda wal: flip(wal, 16),  # a salt: the header checksum no longer matches
    "one bad frame": lambda wal: flip(wal, HEADER + 2 * (24 + _page_size(wal)) + 24 + 100),  # frame 3's page
    "truncated": lambda wal: os.truncate(wal, wal.stat().st_size - 1000),
    "truncated header": lambda wal: os.truncate(wal, 20),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_wal_is_a_typed_error_exit_2_and_nothing_changes(crashed, tmp_path, damage):
    db = copy_of(crashed, tmp_path)
    DAMAGE[damage](Path(f"{db}-wal"))
    before = digests(db)
    with pytest.raises(CorruptWalError, match="write-ahead log"):
        open_database(f"sqlite:///{db}")
    for args in (("threads", "list"), ("--example", "storefront", "run", "-t", "t9", "hello")):
        done = cli(db, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "write-ahead log" in lines[0], done.stderr
    assert digests(db) == before  # not one byte of db, -wal or -shm changed


def _torn_tail(wal: Path, whole: bool) -> None:
    """What a crash mid-transaction leaves: the start of a frame never committed (same salts)."""
    data = wal.read_bytes()
    page = _page_size(wal)
    frame = bytearray(data[HEADER:HEADER + 24 + page])  # frame 1's layout: salts of this generation
    frame[4:8] = b"\0\0\0\0"  # not a commit frame
    frame[24:] = os.urandom(page)  # its checksum no longer matches: a torn page
    wal.write_bytes(data + bytes(frame if whole else frame[:24 + 100]))


@pytest.mark.parametrize("whole", [False, True], ids=["partial frame", "torn page"])
def test_a_torn_uncommitted_tail_is_not_damage(crashed, tmp_path, whole):
    db = copy_of(crashed, tmp_path)
    _torn_tail(Path(f"{db}-wal"), whole)
    assert check_wal(db) is not None  # nothing committed is missing: SQLite drops the tail, so do we
    done = cli(db, "--json", "threads", "list")
    assert done.returncode == 0, done.stderr
    assert sorted(t["thread_id"] for t in json.loads(done.stdout)) == ["t0", "t1", "t2"]
