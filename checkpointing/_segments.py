"""Cold segments: a block of old checkpoints of one (thread, namespace), with their
pending writes, packed into one compressed row of ``sl_segments``.

Why: a checkpoint row costs ~330 B (two 36-char ids, a ~180 B checkpoint naming every
channel's version, metadata JSON, b-tree keys) and a write row ~110 B of keys before its
value, each compressed on its own. Consecutive checkpoints of a thread share almost
everything: id prefixes, channel versions, metadata keys, task paths. Packed column by
column and deflated together they cost a fraction of that (measured in STORAGE.md).

What a segment holds is exactly what the rows held: the serializer's (type, bytes) of
each checkpoint and write (unwrapped from the codec's per-row deflate, never decoded, so
values sealed by encryption at rest stay sealed), the metadata text, ``created_at``.
Rows put back into the live tables (``_archive.unarchive``) read back the same.
"""

from __future__ import annotations

import bisect
import json
import lzma
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ormsgpack

from stateline.errors import CorruptDatabaseError

from ._codec import inflate

SEGMENT_TYPE = "slseg1"
"""Format tag of ``sl_segments.type``: raw LZMA2 of the msgpack of the column dict below."""

SEGMENT_SCHEMA = """
CREATE TABLE IF NOT EXISTS sl_segments (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    last_id TEXT NOT NULL,
    first_id TEXT NOT NULL,
    count INTEGER NOT NULL,
    run_ids TEXT,
    type TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (thread_id, checkpoint_ns, last_id)
) WITHOUT ROWID;
"""

CheckpointRow = tuple[str, str | None, str, bytes, bytes | None, float]
"""(checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata, created_at)."""
WriteRow = tuple[str, str, str, int, str, str | None, bytes | None]
"""(checkpoint_id, task_id, task_path, idx, channel, type, value)."""


@dataclass
class Segment:
    """The decoded content of one segment; checkpoints in ascending id order."""

    checkpoints: list[CheckpointRow]
    writes: list[WriteRow]
    ids: list[str] = field(init=False)
    _writes_of: dict[str, list[tuple]] = field(init=False)
    _filter_json: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.ids = [c[0] for c in self.checkpoints]
        self._writes_of = {}
        for cid, task_id, path, idx, channel, type_, value in self.writes:
            self._writes_of.setdefault(cid, []).append((task_id, channel, type_, value, path, idx))

    def index(self, checkpoint_id: str) -> int | None:
        i = bisect.bisect_left(self.ids, checkpoint_id)
        return i if i < len(self.ids) and self.ids[i] == checkpoint_id else None

    def pending(self, checkpoint_id: str) -> list[tuple]:
        """Write rows of one checkpoint in the shape of the saver's writes query."""
        return self._writes_of.get(checkpoint_id, [])

    def filter_json(self) -> str:
        """``[[checkpoint_id, metadata text], ...]``: what the list filter query reads."""
        if self._filter_json is None:
            pairs = [[c[0], _text(c[4])] for c in self.checkpoints]
            self._filter_json = json.dumps(pairs, ensure_ascii=False)
        return self._filter_json

    def run_ids(self) -> str | None:
        """The distinct ``run_id`` values of its metadata as a JSON array (for delete_for_runs)."""
        runs = set()
        for c in self.checkpoints:
            try:
                meta = json.loads(_text(c[4]) or "null")
            except ValueError:
                continue
            if isinstance(meta, dict) and meta.get("run_id") is not None:
                runs.add(str(meta["run_id"]))
        return json.dumps(sorted(runs)) if runs else None


def map_payloads(segment: Segment, change: Callable[[str, bytes], tuple[str, bytes]]) -> Segment:
    """A copy with ``change(type, bytes)`` applied to every stored checkpoint and write value
    (what re-encryption does to the rows); absent values (no type, no bytes, 'empty') are kept."""

    def one(type_: str | None, payload: bytes | None) -> tuple[str | None, bytes | None]:
        if type_ is None or payload is None or type_ == "empty":
            return type_, payload
        return change(type_, bytes(payload))

    checkpoints = [(c[0], c[1], *one(c[2], c[3]), c[4], c[5]) for c in segment.checkpoints]
    writes = [(*w[:5], *one(w[5], w[6])) for w in segment.writes]
    return Segment(checkpoints, writes)  # type: ignore[arg-type]


def _text(metadata: bytes | str | None) -> str | None:
    if metadata is None or isinstance(metadata, str):
        return metadata
    return bytes(metadata).decode("utf-8", "replace")


def unwrap(type_: str | None, payload: bytes | None) -> tuple[str | None, bytes | None]:
    """The serializer's own (type, bytes) of a row: the codec's per-row deflate undone, so
    the segment compresses the raw bytes across rows (sealed bytes stay sealed)."""
    if type_ is None or payload is None:
        return type_, payload
    return inflate(type_, bytes(payload))


_LZMA = [{"id": lzma.FILTER_LZMA2, "dict_size": 1 << 20}]
"""What a raw LZMA2 segment decodes with: a 1 MiB window covers a whole segment."""
_LZMA_PACK = [{**_LZMA[0], "preset": 6, "mf": lzma.MF_HC4, "nice_len": 32}]
"""Measured on the bench's segments (113 kB raw each): 568 kB for 38 segments in ~5 ms each,
against zlib -9 700 kB, preset 6 (binary-tree match finder) 545 kB in ~14 ms. Packing runs
inside a turn's put, so the faster match finder; reading back is <1 ms either way."""
_SAME_AS_PREVIOUS = 0
"""``parents`` entry meaning "the previous checkpoint of the segment" (the usual case)."""


def _pack_id(value: str) -> str | bytes:
    """A canonical uuid as its 16 bytes (ids are most of what is left); anything else as is."""
    try:
        packed = uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return value
    return packed.bytes if str(packed) == value else value


def _unpack_id(value: str | bytes) -> str:
    return str(uuid.UUID(bytes=value)) if isinstance(value, bytes) else value


def encode(segment: Segment) -> bytes:
    """Columns, not rows: ids next to ids and checkpoints next to checkpoints compress best.
    Parents that are the previous checkpoint and the checkpoint of each write are indexes."""
    cps, ws = segment.checkpoints, segment.writes
    position = {cid: i for i, cid in enumerate(segment.ids)}
    parents = [
        _SAME_AS_PREVIOUS if i and c[1] == cps[i - 1][0] else (None if c[1] is None else _pack_id(c[1]))
        for i, c in enumerate(cps)
    ]
    columns = {
        "ids": [_pack_id(c[0]) for c in cps], "parents": parents, "types": [c[2] for c in cps],
        "meta": [c[4] for c in cps], "at": [c[5] for c in cps], "cp": [c[3] for c in cps],
        "w_cp": [position[w[0]] for w in ws], "w_task": [_pack_id(w[1]) for w in ws], "w_path": [w[2] for w in ws],
        "w_idx": [w[3] for w in ws], "w_ch": [w[4] for w in ws], "w_type": [w[5] for w in ws],
        "w_val": [w[6] for w in ws],
    }  # fmt: skip
    return lzma.compress(ormsgpack.packb(columns), format=lzma.FORMAT_RAW, filters=_LZMA_PACK)


def decode(type_: str, data: bytes) -> Segment:
    if type_ != SEGMENT_TYPE:
        raise CorruptDatabaseError(f"unknown checkpoint segment format {type_!r}; upgrade stateline")
    try:
        c: dict[str, Any] = ormsgpack.unpackb(lzma.decompress(data, format=lzma.FORMAT_RAW, filters=_LZMA))
        ids = [_unpack_id(i) for i in c["ids"]]
        parents = [
            ids[i - 1] if i and p == _SAME_AS_PREVIOUS else (None if p is None else _unpack_id(p))
            for i, p in enumerate(c["parents"])
        ]
        checkpoints = list(zip(ids, parents, c["types"], c["cp"], c["meta"], c["at"], strict=False))
        tasks = [_unpack_id(t) for t in c["w_task"]]
        writes = list(
            zip([ids[i] for i in c["w_cp"]], tasks, c["w_path"], c["w_idx"], c["w_ch"], c["w_type"], c["w_val"],
                strict=False)
        )
    except (lzma.LZMAError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise CorruptDatabaseError(f"checkpoint segment does not decode ({exc})") from exc
    return Segment(checkpoints, writes)  # type: ignore[arg-type]


class SegmentCache:
    """The last few decoded segments: a history page walks one segment over several pages.

    Keyed by (thread, ns, last_id) and checked against the stored bytes, so a segment
    rewritten under the same key (re-archived with more writes, rekeyed) is decoded anew.
    """

    SIZE = 8

    def __init__(self) -> None:
        self._items: OrderedDict[tuple[str, str, str], tuple[bytes, Segment]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str], type_: str, data: bytes) -> Segment:
        data = bytes(data)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] == data:
                self._items.move_to_end(key)
                return hit[1]
        segment = decode(type_, data)
        with self._lock:
            self._items[key] = (data, segment)
            while len(self._items) > self.SIZE:
                self._items.popitem(last=False)
        return segment
