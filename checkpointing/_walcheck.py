"""Check a SQLite database's ``-wal`` before SQLite opens it, so damage is reported, not erased.

When SQLite opens a database whose WAL has a bad header, it ignores the whole WAL; a frame
whose checksum does not match ends the log there, and every commit after it is dropped;
a torn last frame is dropped too. Then the first read-write connection to close
checkpoints what is left and deletes the WAL, and the evidence is gone. So before any
connection is made, this module reads the WAL the way SQLite's recovery does (file format:
https://www.sqlite.org/fileformat2.html#walformat) and raises :class:`CorruptWalError`
(a CorruptDatabaseError: exit 2 on the CLI) for a bad header, a bad frame or a truncated
file, without writing a byte.

Frames left over from an earlier generation of the WAL (other salts, after SQLite reset
it) are not part of the log and are not checked, as SQLite does not read them either.
A crash mid-transaction leaves a torn tail (frames, or part of one, never committed): that
is not damage. So a bad or missing frame is reported when the log goes on intact after it,
or when the ``-shm`` wal-index (left by the crashed process) says more frames were
committed than the file still holds intact.
A process writing the WAL while it is read can make it look torn for an instant, so a
problem is only reported when it is still there when read again.
"""

from __future__ import annotations

import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path

from stateline.errors import CorruptWalError

MAGIC_LE, MAGIC_BE = 0x377F0682, 0x377F0683
HEADER, FRAME_HEADER = 32, 24
CHECK_MAX_BYTES = 32 * 1024 * 1024
"""Checksums are verified for this much of a WAL (~70 ms per MB in Python); beyond it, only
its header and frame layout. A cleanly closed database has an empty WAL."""
_MASK = 0xFFFFFFFF


@dataclass(frozen=True)
class WalReport:
    """What the check found in a healthy WAL."""

    frames: int
    """Frames of the current generation whose checksums hold."""
    commits: int
    """Commit frames among them (transactions SQLite will replay)."""
    page_size: int
    """The database page size the WAL records."""


def checksum(data: bytes, s0: int, s1: int, big_endian: bool) -> tuple[int, int]:
    """SQLite's WAL checksum of ``data`` (a multiple of 8 bytes), continuing from (s0, s1)."""
    words = struct.unpack(f"{'>' if big_endian else '<'}{len(data) // 4}I", data)
    it = iter(words)
    for a, b in zip(it, it, strict=False):
        s0 = (s0 + a + s1) & _MASK
        s1 = (s1 + b + s0) & _MASK
    return s0, s1


def check_wal(db_path: Path, *, attempts: int = 3) -> WalReport | None:
    """Raise CorruptWalError if ``db_path``'s WAL is damaged; None when there is no WAL."""
    wal = Path(f"{db_path}-wal")
    for attempt in range(attempts):
        try:
            return _scan(wal)
        except CorruptWalError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05)  # a writer may be appending right now: look again
        except FileNotFoundError:
            return None
    return None  # pragma: no cover - the loop returns or raises


def _damaged(wal: Path, what: str) -> CorruptWalError:
    return CorruptWalError(
        f"the write-ahead log {str(wal)!r} is damaged ({what}); opening it would silently drop the "
        "commits it holds, so nothing was opened or changed: keep both files, restore a backup "
        "(`stateline restore`), or move the -wal aside to accept the loss",
        location=str(wal),
    )


def _scan(wal: Path) -> WalReport | None:
    with open(wal, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return None  # reset by a checkpoint(TRUNCATE): an empty log
        head = f.read(HEADER)
        if len(head) < HEADER:
            raise _damaged(wal, f"truncated: {size} bytes, shorter than its 32-byte header")
        magic, version, page_size, _seq, salt1, salt2, c0, c1 = struct.unpack(">8I", head)
        if magic not in (MAGIC_LE, MAGIC_BE) or version != 3007000:
            raise _damaged(wal, "bad header: not a SQLite WAL header")
        big = magic == MAGIC_BE
        if (c0, c1) != checksum(head[:24], 0, 0, big):
            raise _damaged(wal, "bad header: its checksum does not match")
        if page_size < 512 or page_size > 65536 or page_size & (page_size - 1):
            raise _damaged(wal, f"bad header: page size {page_size}")
        committed = _committed_frames(wal, head[16:24])
        frame = FRAME_HEADER + page_size
        scan = _frames(f, frame, (salt1, salt2), (c0, c1), big, size)
    if scan.bad is not None and scan.continues:
        raise _damaged(wal, f"frame {scan.bad} fails its checksum while the frames after it are intact")
    if committed is not None and scan.frames < committed:
        torn = (size - HEADER) % frame
        what = (f"truncated: {size} bytes end inside frame {(size - HEADER) // frame + 1}" if torn
                else f"frame {scan.bad} fails its checksum" if scan.bad is not None else "truncated")
        raise _damaged(wal, f"{what}; {committed} frames were committed, {scan.frames} are intact")
    # anything after the intact frames is the torn tail of a transaction that never committed,
    # which is what a crash leaves behind; SQLite ignores it and so do we
    return WalReport(scan.frames, scan.commits, page_size)


def _committed_frames(wal: Path, salts: bytes) -> int | None:
    """How many frames the ``-shm`` wal-index says were committed to this WAL, if it knows.

    Its header (two identical 48-byte copies, native byte order) holds ``mxFrame`` at offset
    16 and the WAL's salts at 32; it is only trusted when initialized and for these salts.
    """
    try:
        with open(f"{str(wal)[:-4]}-shm", "rb") as f:
            data = f.read(96)
    except OSError:
        return None
    if len(data) < 96 or data[:48] != data[48:96]:
        return None
    version, is_init, mx_frame = struct.unpack_from("=I", data, 0)[0], data[12], struct.unpack_from("=I", data, 16)[0]
    if version != 3007000 or is_init != 1 or data[32:40] != salts:
        return None
    return int(mx_frame)


@dataclass(frozen=True)
class _Scan:
    frames: int
    """Intact frames of the current generation, from the start."""
    commits: int
    """Commit frames among them."""
    bad: int | None
    """The first frame (1-based) whose checksum fails, if any."""
    continues: bool
    """Whether the frame after the bad one checks out against the bad one's stored checksum:
    the log goes on past the damage (a flipped byte), rather than ending in a torn write."""


def _frames(f: object, frame: int, salts: tuple[int, int], sums: tuple[int, int], big: bool, size: int) -> _Scan:
    frames = commits = 0
    s0, s1 = sums
    read = f.read  # type: ignore[attr-defined]
    bad: int | None = None
    end = HEADER + frame
    while end <= size:
        data = read(frame)
        _page, commit, salt1, salt2, f0, f1 = struct.unpack(">6I", data[:FRAME_HEADER])
        if (salt1, salt2) != salts:
            break  # an earlier generation's frame: the log ends here
        if end <= CHECK_MAX_BYTES:
            if bad is not None:  # the frame after a bad one: does the chain go on from its stored sums?
                return _Scan(frames, commits, bad, _frame_sum(data, s0, s1, big) == (f0, f1))
            t0, t1 = _frame_sum(data, s0, s1, big)
            if (t0, t1) != (f0, f1):
                bad, s0, s1 = frames + 1, f0, f1
                end += frame
                continue
            s0, s1 = t0, t1
        frames += 1
        commits += int(commit != 0)
        end += frame
    return _Scan(frames, commits, bad, False)


def _frame_sum(data: bytes, s0: int, s1: int, big: bool) -> tuple[int, int]:
    s0, s1 = checksum(data[:8], s0, s1, big)
    return checksum(data[FRAME_HEADER:], s0, s1, big)
