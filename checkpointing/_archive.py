"""Moving old checkpoints into cold segments and back (inside the caller's write transaction).

The invariant every reader relies on, per (thread, namespace): every archived checkpoint id
is older than every live one, and while segments exist at least ``KEEP_LIVE`` checkpoints
stay live. So the head, its pending writes and the steps a resume or a short rewind needs
are always plain rows; ``get_tuple`` of the head, ``head_probe`` and the per-turn write path
never open a segment.

Whatever would break the invariant first puts the affected segments back as rows
(``unarchive``): a ``put`` or ``put_writes`` for an id at or below an archived one,
``delete_for_runs`` of an archived checkpoint, ``keep_last`` reaching into the archive.
Archiving runs in the same transaction as the ``put`` that crossed the threshold, so a
crash leaves either the rows or the segment, never neither.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from ._segments import SEGMENT_TYPE, Segment, SegmentCache, decode, encode, unwrap

KEEP_LIVE = 64
"""Newest checkpoints per (thread, ns) that are never archived."""
SEGMENT_SIZE = 128
"""Checkpoints per segment; a (thread, ns) is archived once it has KEEP_LIVE + this many + 1."""
MAX_PER_PUT = 4
"""Segments one put may write: a file from the row-only layout converges without one long stall."""

_LIVE_COLUMNS = "checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata, created_at"
_WRITE_COLUMNS = "checkpoint_id, task_id, task_path, idx, channel, type, value"
_SEGMENT_KEY = "thread_id = ? AND checkpoint_ns = ?"
_FILTER_SQL = (
    "SELECT idx FROM (SELECT CAST(key AS INTEGER) AS idx, ? AS thread_id, ? AS checkpoint_ns, "
    "json_extract(value, '$[0]') AS checkpoint_id, json_extract(value, '$[1]') AS metadata "
    "FROM json_each(?)) {where}"
)


def live_count(cur: sqlite3.Cursor, thread_id: str, ns: str) -> int:
    sql = "SELECT count(*) FROM sl_checkpoints WHERE thread_id = ? AND checkpoint_ns = ?"
    return cur.execute(sql, (thread_id, ns)).fetchone()[0]


def maybe_archive(cur: sqlite3.Cursor, thread_id: str, ns: str) -> int:
    """After a put: pack the oldest SEGMENT_SIZE live checkpoints while there are too many."""
    live = live_count(cur, thread_id, ns)
    made = 0
    while live > KEEP_LIVE + SEGMENT_SIZE and made < MAX_PER_PUT:
        archive_oldest(cur, thread_id, ns, SEGMENT_SIZE)
        live -= SEGMENT_SIZE
        made += 1
    return made


def crowded(cur: sqlite3.Cursor) -> list[tuple[str, str]]:
    """Every (thread, ns) with more live rows than ``maybe_archive`` leaves."""
    sql = "SELECT thread_id, checkpoint_ns FROM sl_checkpoints GROUP BY thread_id, checkpoint_ns HAVING count(*) > ?"
    return [(r[0], r[1]) for r in cur.execute(sql, (KEEP_LIVE + SEGMENT_SIZE,)).fetchall()]


def archive_oldest(cur: sqlite3.Cursor, thread_id: str, ns: str, size: int) -> None:
    """Replace the ``size`` oldest live checkpoints of (thread, ns) and their writes by one segment."""
    rows = cur.execute(
        f"SELECT {_LIVE_COLUMNS} FROM sl_checkpoints WHERE {_SEGMENT_KEY} ORDER BY checkpoint_id LIMIT ?",
        (thread_id, ns, size),
    ).fetchall()
    if not rows:
        return
    first, last = rows[0][0], rows[-1][0]
    ids = {r[0] for r in rows}
    writes = [
        (w[0], w[1], w[2], w[3], w[4], *unwrap(w[5], w[6]))
        for w in cur.execute(
            f"SELECT {_WRITE_COLUMNS} FROM sl_writes WHERE {_SEGMENT_KEY} AND checkpoint_id BETWEEN ? AND ? "
            "ORDER BY checkpoint_id, task_id, idx",
            (thread_id, ns, first, last),
        ).fetchall()
        if w[0] in ids  # writes of a checkpoint that was never put stay where they are
    ]
    segment = Segment([(r[0], r[1], *unwrap(r[2], r[3]), r[4], r[5]) for r in rows], writes)  # type: ignore[misc]
    cur.execute(
        "INSERT INTO sl_segments (thread_id, checkpoint_ns, last_id, first_id, count, run_ids, type, data) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (thread_id, ns, last, first, len(rows), segment.run_ids(), SEGMENT_TYPE, encode(segment)),
    )
    cur.execute(f"DELETE FROM sl_checkpoints WHERE {_SEGMENT_KEY} AND checkpoint_id <= ?", (thread_id, ns, last))
    cur.executemany(
        f"DELETE FROM sl_writes WHERE {_SEGMENT_KEY} AND checkpoint_id = ?", [(thread_id, ns, i) for i in sorted(ids)]
    )


def unarchive(cur: sqlite3.Cursor, thread_id: str, ns: str, last_id: str) -> None:
    """Put one segment's checkpoints and writes back as live rows and drop the segment."""
    row = cur.execute(
        f"SELECT type, data FROM sl_segments WHERE {_SEGMENT_KEY} AND last_id = ?", (thread_id, ns, last_id)
    ).fetchone()
    if row is None:
        return
    segment = decode(row[0], bytes(row[1]))
    cur.executemany(
        f"INSERT OR IGNORE INTO sl_checkpoints (thread_id, checkpoint_ns, {_LIVE_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(thread_id, ns, *c) for c in segment.checkpoints],
    )
    cur.executemany(
        f"INSERT OR IGNORE INTO sl_writes (thread_id, checkpoint_ns, {_WRITE_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(thread_id, ns, *w) for w in segment.writes],
    )
    cur.execute(f"DELETE FROM sl_segments WHERE {_SEGMENT_KEY} AND last_id = ?", (thread_id, ns, last_id))


def unarchive_from(cur: sqlite3.Cursor, thread_id: str, ns: str, checkpoint_id: str) -> None:
    """Before writing ``checkpoint_id`` or its writes: unpack every segment not older than it."""
    lasts = cur.execute(
        f"SELECT last_id FROM sl_segments WHERE {_SEGMENT_KEY} AND last_id >= ?", (thread_id, ns, checkpoint_id)
    ).fetchall()
    for (last,) in lasts:
        unarchive(cur, thread_id, ns, last)


def refill(cur: sqlite3.Cursor, thread_id: str, ns: str, keep: int) -> None:
    """Unpack the newest segments until ``keep`` checkpoints are live (or none is archived)."""
    while live_count(cur, thread_id, ns) < keep:
        row = cur.execute(
            f"SELECT last_id FROM sl_segments WHERE {_SEGMENT_KEY} ORDER BY last_id DESC LIMIT 1", (thread_id, ns)
        ).fetchone()
        if row is None:
            return
        unarchive(cur, thread_id, ns, row[0])


def unarchive_runs(cur: sqlite3.Cursor, run_ids: Sequence[str]) -> set[tuple[str, str]]:
    """Unpack every segment naming one of ``run_ids``; return the (thread, ns) touched."""
    marks = ", ".join("?" for _ in run_ids)
    found = cur.execute(
        "SELECT thread_id, checkpoint_ns, last_id FROM sl_segments WHERE run_ids IS NOT NULL AND EXISTS "
        f"(SELECT 1 FROM json_each(sl_segments.run_ids) WHERE value IN ({marks}))",
        [str(r) for r in run_ids],
    ).fetchall()
    for thread_id, ns, last in found:
        unarchive(cur, thread_id, ns, last)
    return {(t, n) for t, n, _ in found}


def drop_beyond(cur: sqlite3.Cursor, thread_id: str, keep: int) -> int:
    """For ``keep_last``: unpack what the ``keep`` newest need, delete older segments; return
    how many archived checkpoints were deleted."""
    namespaces = [
        r[0] for r in cur.execute("SELECT DISTINCT checkpoint_ns FROM sl_segments WHERE thread_id = ?", (thread_id,))
    ]
    for ns in namespaces:
        refill(cur, thread_id, ns, keep)
    row = cur.execute("SELECT coalesce(sum(count), 0) FROM sl_segments WHERE thread_id = ?", (thread_id,)).fetchone()
    cur.execute("DELETE FROM sl_segments WHERE thread_id = ?", (thread_id,))
    return row[0]


def copy_segments(cur: sqlite3.Cursor, source: str, target: str) -> None:
    cur.execute(
        "INSERT OR REPLACE INTO sl_segments SELECT ?, checkpoint_ns, last_id, first_id, count, run_ids, type, data "
        "FROM sl_segments WHERE thread_id = ?",
        (target, source),
    )


def archived_checkpoints(cur: sqlite3.Cursor, thread_id: str) -> Iterator[tuple[str, str, bytes]]:
    """(ns, type, checkpoint bytes) of every archived checkpoint: garbage collection must keep
    the values they name."""
    rows = cur.execute("SELECT checkpoint_ns, type, data FROM sl_segments WHERE thread_id = ?", (thread_id,)).fetchall()
    for ns, type_, data in rows:
        for c in decode(type_, bytes(data)).checkpoints:
            yield ns, c[2], c[3]


# -- reading ---------------------------------------------------------------------------------
Found = tuple[tuple, Segment, int]
"""(row as the saver's COLUMNS select returns it, its segment, index in the segment)."""


def _found(thread_id: str, ns: str, segment: Segment, i: int) -> Found:
    cid, parent, type_, blob, meta, _ = segment.checkpoints[i]
    return (thread_id, ns, cid, parent, type_, blob, meta), segment, i


def find(cur: sqlite3.Cursor, cache: SegmentCache, thread_id: str, ns: str, checkpoint_id: str | None) -> Found | None:
    """The archived checkpoint ``checkpoint_id`` (None: the newest archived one)."""
    args: tuple[str, ...]
    if checkpoint_id is None:
        sql, args = f"{_SEGMENT_KEY} ORDER BY last_id DESC", (thread_id, ns)
    else:
        sql, args = f"{_SEGMENT_KEY} AND last_id >= ? ORDER BY last_id", (thread_id, ns, checkpoint_id)
    row = cur.execute(f"SELECT last_id, first_id, type, data FROM sl_segments WHERE {sql} LIMIT 1", args).fetchone()
    if row is None or (checkpoint_id is not None and row[1] > checkpoint_id):
        return None
    segment = cache.get((thread_id, ns, row[0]), row[2], row[3])
    i = len(segment.ids) - 1 if checkpoint_id is None else segment.index(checkpoint_id)
    return None if i is None else _found(thread_id, ns, segment, i)


def _segments_in(scope: tuple[str | None, str | None, str | None]) -> tuple[str, list[str]]:
    """Keys of the segments a ``list`` scope can reach, newest first."""
    conds, args = [], []
    for cond, value in zip(("thread_id = ?", "checkpoint_ns = ?", "first_id <= ?"), scope, strict=False):
        if value is not None:
            conds.append(cond)
            args.append(value)
    sql = "SELECT thread_id, checkpoint_ns, last_id FROM sl_segments"
    sql += (" WHERE " + " AND ".join(conds)) if conds else ""
    return sql + " ORDER BY last_id DESC, thread_id DESC, checkpoint_ns DESC", args


def _load(cur: sqlite3.Cursor, cache: SegmentCache, thread_id: str, ns: str, last_id: str) -> Segment:
    sql = f"SELECT type, data FROM sl_segments WHERE {_SEGMENT_KEY} AND last_id = ?"
    type_, data = cur.execute(sql, (thread_id, ns, last_id)).fetchone()
    return cache.get((thread_id, ns, last_id), type_, data)


def page(
    cur: sqlite3.Cursor,
    cache: SegmentCache,
    scope: tuple[str | None, str | None, str | None],
    where: str,
    params: Sequence[Any],
    live_keys: list[tuple],
    size: int,
) -> list[tuple[tuple, Found]]:
    """Archived checkpoints that may be among the next ``size`` of a ``list`` page, with keys.

    ``scope`` is (thread_id, ns, upper bound on ids) from the config, ``before`` and the
    keyset cursor; ``where``/``params`` are the live query's own predicates, applied to each
    segment's ids and metadata by SQLite itself, so filters match exactly as on live rows.
    Segments are read newest first and only while they can still beat the page's worst key.
    """
    sql, args = _segments_in(scope)
    found: list[tuple[tuple, Found]] = []
    keys = sorted(live_keys, reverse=True)
    segments = cur.connection.execute(sql, args)  # its own cursor: ``cur`` runs the filter
    try:
        for seg_thread, seg_ns, last in segments:  # keys first: a segment's bytes only if needed
            if len(keys) >= size and (last, seg_thread, seg_ns) < keys[size - 1]:
                break
            segment = _load(cur, cache, seg_thread, seg_ns, last)
            hits = cur.execute(_FILTER_SQL.format(where=where), (seg_thread, seg_ns, segment.filter_json(), *params))
            for (i,) in hits.fetchall():
                key = (segment.ids[i], seg_thread, seg_ns)
                found.append((key, _found(seg_thread, seg_ns, segment, i)))
                keys.append(key)
            keys.sort(reverse=True)
    finally:
        segments.close()
    return found
