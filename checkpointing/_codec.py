"""Compact encodings for stored checkpoints: zlib-wrapped values and short channel versions."""

from __future__ import annotations

import base64
import random
import zlib
from typing import Any

from langgraph.checkpoint.serde.base import SerializerProtocol

_PREFIX = "deflate+"
"""Raw deflate, no dictionary (rows written before the dictionary existed; read only)."""
_DICT_PREFIX = "zd1+"
"""Raw deflate primed with :data:`ZDICT_1`."""
MIN_COMPRESS = 48
"""Payloads shorter than this are stored as they are: zlib's header would eat the gain."""

# A preset dictionary: LangGraph's msgpack of a checkpoint and of each LangChain message
# type with empty fields. Most of a small payload is these keys and class paths, which
# plain deflate must spell out once per row; primed, it refers back to the dictionary
# (measured on the bench thread: checkpoint rows 265 -> 178 B, message rows -40%).
# NEVER CHANGE these bytes: rows tagged "zd1+" decode only with exactly them. A better
# dictionary gets a new tag ("zd2+") and this one stays for reading.
ZDICT_1 = base64.b64decode(
    "hqF2BKJ0c9kgMjAyNi0wMS0wMVQwMDowMDowMC4wMDAwMDArMDA6MDCuY2hhbm5lbF92YWx1ZXODr2JyYW5jaDp0bzphZ2Vu"
    "dMClcm91dGWgpXR1cm5zAbBjaGFubmVsX3ZlcnNpb25zg6lfX3N0YXJ0X1+zMDAwMDAwMDAwMS4wMDAwMDAwMKhtZXNzYWdl"
    "c7MwMDAwMDAwMDAyLjAwMDAwMDAwr2JyYW5jaDp0bzpyb3V0ZbMwMDAwMDAwMDAzLjAwMDAwMDAwrXZlcnNpb25zX3NlZW6D"
    "qV9faW5wdXRfX4CpX19zdGFydF9fgalfX3N0YXJ0X1+zMDAwMDAwMDAwMS4wMDAwMDAwMKVhZ2VudIGvYnJhbmNoOnRvOmFn"
    "ZW50szAwMDAwMDAwMDIuMDAwMDAwMDCwdXBkYXRlZF9jaGFubmVsc5KobWVzc2FnZXOvYnJhbmNoOnRvOmFnZW50kcfTBZS8"
    "bGFuZ2NoYWluX2NvcmUubWVzc2FnZXMudG9vbKtUb29sTWVzc2FnZYmnY29udGVudKCxYWRkaXRpb25hbF9rd2FyZ3OAsXJl"
    "c3BvbnNlX21ldGFkYXRhgKR0eXBlpHRvb2ykbmFtZaCiaWTZJDAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAw"
    "MKx0b29sX2NhbGxfaWSlY2FsbF+oYXJ0aWZhY3TApnN0YXR1c6dzdWNjZXNzs21vZGVsX3ZhbGlkYXRlX2pzb26Rx60FlL5s"
    "YW5nY2hhaW5fY29yZS5tZXNzYWdlcy5zeXN0ZW2tU3lzdGVtTWVzc2FnZYanY29udGVudKCxYWRkaXRpb25hbF9rd2FyZ3OA"
    "sXJlc3BvbnNlX21ldGFkYXRhgKR0eXBlpnN5c3RlbaRuYW1lwKJpZNkkMDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAw"
    "MDAwMDAws21vZGVsX3ZhbGlkYXRlX2pzb26BqG1lc3NhZ2VzkceqBZS9bGFuZ2NoYWluX2NvcmUubWVzc2FnZXMuaHVtYW6s"
    "SHVtYW5NZXNzYWdlhqdjb250ZW50oLFhZGRpdGlvbmFsX2t3YXJnc4CxcmVzcG9uc2VfbWV0YWRhdGGApHR5cGWlaHVtYW6k"
    "bmFtZcCiaWTZJDAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMLNtb2RlbF92YWxpZGF0ZV9qc29ukcfeBZS6"
    "bGFuZ2NoYWluX2NvcmUubWVzc2FnZXMuYWmpQUlNZXNzYWdliadjb250ZW50oLFhZGRpdGlvbmFsX2t3YXJnc4CxcmVzcG9u"
    "c2VfbWV0YWRhdGGApHR5cGWiYWmkbmFtZaVhZ2VudKJpZNksbGNfcnVuLS0wMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAw"
    "MDAwMDAwMDCqdG9vbF9jYWxsc5CyaW52YWxpZF90b29sX2NhbGxzkK51c2FnZV9tZXRhZGF0YcCzbW9kZWxfdmFsaWRhdGVf"
    "anNvbpHH0QWUumxhbmdjaGFpbl9jb3JlLm1lc3NhZ2VzLmFpqUFJTWVzc2FnZYmnY29udGVudKCxYWRkaXRpb25hbF9rd2Fy"
    "Z3OAsXJlc3BvbnNlX21ldGFkYXRhgKR0eXBlomFppG5hbWXAomlk2SQwMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAw"
    "MDAwMDCqdG9vbF9jYWxsc5CyaW52YWxpZF90b29sX2NhbGxzkK51c2FnZV9tZXRhZGF0YcCzbW9kZWxfdmFsaWRhdGVfanNv"
    "bg=="
)
assert zlib.crc32(ZDICT_1) == 810176812, "ZDICT_1 changed: stored zd1+ rows would no longer decode"


def _deflate(data: bytes) -> bytes:
    # A 4 KB window and the smallest hash table: set-up of zlib's defaults (256 KB of
    # state) costs ~70 us per call, ten times the compression of a 400-byte value.
    packer = zlib.compressobj(6, zlib.DEFLATED, -12, 2, zdict=ZDICT_1)
    return packer.compress(data) + packer.flush()


def inflate(type_: str, payload: bytes) -> tuple[str, bytes]:
    """Undo the codec's compression: the serializer's own (type, bytes)."""
    if type_.startswith(_DICT_PREFIX):
        unpacker = zlib.decompressobj(-12, zdict=ZDICT_1)
        return type_[len(_DICT_PREFIX) :], unpacker.decompress(payload) + unpacker.flush()
    if type_.startswith(_PREFIX):
        return type_[len(_PREFIX) :], zlib.decompress(payload, -15)
    return type_, payload


class ZlibCodec:
    """Wraps a LangGraph serializer; payloads that shrink by 10%+ are stored deflated.

    The type tag records it (``zd1+msgpack``; older rows ``deflate+msgpack``), so every
    row decodes on its own and rows stored uncompressed stay readable.
    """

    def __init__(self, inner: SerializerProtocol) -> None:
        self.inner = inner

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        type_, data = self.inner.dumps_typed(obj)
        if len(data) >= MIN_COMPRESS:
            packed = _deflate(data)
            if len(packed) * 10 < len(data) * 9:
                return _DICT_PREFIX + type_, packed
        return type_, data

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        return self.inner.loads_typed(inflate(*data))


def next_version(current: str | int | float | None) -> str:
    """``"NNNNNNNNNN.rrrrrrrr"``: a 10-digit counter (string order = numeric order) and 32
    random bits.

    The random part keeps two versions with the same counter apart (a rewind or fork
    that writes version N again on another branch); values are keyed by version, so a
    collision would serve one branch the other's value. 19 characters instead of the
    stock 51 matter because every checkpoint stores every channel's version twice.
    """
    if current is None:
        n = 0
    elif isinstance(current, (int, float)):
        n = int(current)
    else:
        n = int(current.split(".")[0])
    return f"{n + 1:010d}.{random.getrandbits(32):08x}"
