"""Encryption at rest (opt-in): checkpoints, cross-thread memory and app-table fields.

Turned on by ``STATELINE_AES_KEY`` (or ``open_database(url, key=...)``). Checkpoints and
pending writes go through LangGraph's :class:`EncryptedSerializer` (AES, pycryptodome);
store values are sealed into one field by :class:`EncryptedStore`; other components seal
their own sensitive columns with ``Database.encrypt`` / ``Database.decrypt``.

Not encrypted: ids (thread, checkpoint, run, namespace, store key), timestamps, and
checkpoint *metadata* (LangGraph filters on it in SQL) — keep secrets out of those.

A database remembers whether it is encrypted: its first open stores a key check value
(a known token sealed with the key) in ``stateline_meta``; every later open verifies it
before anything else is read or written, so a wrong or missing key is an
:class:`EncryptionKeyError` rather than garbage.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterable
from typing import Any

from Crypto.Cipher import AES
from langgraph.checkpoint.serde.base import CipherProtocol, SerializerProtocol
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)

from stateline.errors import ConfigError, EncryptionKeyError

from ._sql import Backend

KEY_ENV = "STATELINE_AES_KEY"
TOKEN_PREFIX = "stl-aes1:"
"""Every sealed value starts with this, so a reader can tell sealed from plain."""
_KIND = {"s": str, "b": bytes}
_CHECK_PLAINTEXT = "stateline key check v1"
_GENERATE = "generate one with: python -c 'import secrets; print(secrets.token_hex(32))'"


def parse_key(key: str | bytes) -> bytes:
    """An AES key from 64/48/32 hex digits or 32/24/16 raw bytes; EncryptionKeyError otherwise."""
    if isinstance(key, str):
        text = key.strip()
        if len(text) in (32, 48, 64):
            try:
                return bytes.fromhex(text)
            except ValueError:
                pass
        raw = text.encode()
    else:
        raw = bytes(key)
    if len(raw) in (16, 24, 32):
        return raw
    raise EncryptionKeyError(
        f"{KEY_ENV} must be 64 hex digits (or exactly 16, 24 or 32 bytes), got {len(raw)} bytes; {_GENERATE}"
    )


class Cipher(CipherProtocol):
    """AES-GCM with a fresh nonce per value; also LangGraph's CipherProtocol for checkpoints."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    # -- CipherProtocol (checkpoints) ----------------------------------------------
    def encrypt(self, plaintext: bytes) -> tuple[str, bytes]:
        cipher = AES.new(self._key, AES.MODE_GCM)
        body, tag = cipher.encrypt_and_digest(plaintext)
        return "aes", cipher.nonce + tag + body

    def decrypt(self, ciphername: str, ciphertext: bytes) -> bytes:
        if ciphername != "aes":
            raise EncryptionKeyError(f"checkpoint sealed with unknown cipher {ciphername!r}")
        nonce, tag, body = ciphertext[:16], ciphertext[16:32], ciphertext[32:]
        try:
            return AES.new(self._key, AES.MODE_GCM, nonce=nonce).decrypt_and_verify(body, tag)
        except ValueError:
            raise EncryptionKeyError(
                f"a stored value does not decrypt with this {KEY_ENV}: wrong key, or the data was altered"
            ) from None

    # -- text tokens (app tables, store values) ------------------------------------
    def seal(self, value: str | bytes) -> str:
        kind = "b" if isinstance(value, (bytes, bytearray)) else "s"
        data = bytes(value) if isinstance(value, (bytes, bytearray)) else str(value).encode()
        _, blob = self.encrypt(data)
        return f"{TOKEN_PREFIX}{kind}:{base64.b64encode(blob).decode()}"

    def open(self, token: str) -> str | bytes:
        try:
            kind, body = token[len(TOKEN_PREFIX) :].split(":", 1)
            blob = base64.b64decode(body, validate=True)
            _KIND[kind]
        except (ValueError, KeyError, binascii.Error):
            raise EncryptionKeyError(f"malformed encrypted value {token[:40]!r}") from None
        data = self.decrypt("aes", blob)
        return data if kind == "b" else data.decode()


def key_from_env(key: str | bytes | None | bool) -> Cipher | None:
    """The cipher for ``key``, else for ``$STATELINE_AES_KEY``; None when neither is set or key is False."""
    if key is False:
        return None
    if key is None or key is True:
        key = os.environ.get(KEY_ENV) or None
    return None if key is None else Cipher(parse_key(key))


def encrypt_value(cipher: Cipher | None, value: Any) -> Any:
    return value if cipher is None or value is None else cipher.seal(value)


def decrypt_value(cipher: Cipher | None, value: Any) -> Any:
    if not isinstance(value, str) or not value.startswith(TOKEN_PREFIX):
        return value
    if cipher is None:
        raise EncryptionKeyError(f"value is encrypted; set {KEY_ENV} to read it")
    return cipher.open(value)


def check_key(backend: Backend, cipher: Cipher | None) -> None:
    """Verify ``cipher`` against the database's key check value (recording it on first open).

    Raises before any other table is touched, so a failed check changes nothing.
    """
    where = backend.where
    row = _read_check(backend)
    if row is None:
        value = cipher.seal(_CHECK_PLAINTEXT) if cipher is not None else "none"
        with backend.transaction() as tx:
            tx.execute(
                "INSERT INTO stateline_meta(name, value) VALUES ('encryption', ?) ON CONFLICT(name) DO NOTHING",
                (value,),
            )
        row = _read_check(backend)
        assert row is not None
    if row == "none":
        if cipher is not None:
            raise EncryptionKeyError(
                f"database {where} was created without encryption but {KEY_ENV} is set; "
                f"unset {KEY_ENV} to open it, or encrypt it with checkpointing.rekey(url, None, key)"
            )
        return
    if cipher is None:
        raise EncryptionKeyError(
            f"database {where} is encrypted; set {KEY_ENV} to the key it was created with"
        )
    try:
        ok = cipher.open(row) == _CHECK_PLAINTEXT
    except EncryptionKeyError:
        ok = False
    if not ok:
        raise EncryptionKeyError(
            f"{KEY_ENV} is not the key database {where} was encrypted with; set the original key"
        )


def _read_check(backend: Backend) -> str | None:
    rows = backend.query("SELECT value FROM stateline_meta WHERE name = 'encryption'")
    return rows[0]["value"] if rows else None


def encrypting_serde(cipher: Cipher, inner: SerializerProtocol) -> EncryptedSerializer:
    """LangGraph's EncryptedSerializer around the saver's own serializer."""
    return EncryptedSerializer(cipher, inner)


SEALED_FIELD = "__stateline_sealed__"


class EncryptedStore(BaseStore):
    """A LangGraph store whose item values are sealed into one field of the inner store.

    Namespaces and keys stay plain (they are how items are found). ``search`` with a
    ``filter`` decrypts and filters in process (scanning the namespace prefix); semantic
    ``query`` search cannot work on sealed values and raises ConfigError.
    """

    def __init__(self, inner: BaseStore, cipher: Cipher) -> None:
        self.inner = inner
        self._cipher = cipher
        self.supports_ttl = inner.supports_ttl
        self.ttl_config = inner.ttl_config

    def _seal(self, value: dict[str, Any]) -> dict[str, Any]:
        return {SEALED_FIELD: self._cipher.seal(json.dumps(value, separators=(",", ":")))}

    def _open(self, item: Item | None) -> Any:
        if item is None:
            return None
        sealed = item.value.get(SEALED_FIELD) if isinstance(item.value, dict) else None
        value = json.loads(self._cipher.open(sealed)) if isinstance(sealed, str) else item.value
        if isinstance(item, SearchItem):
            return SearchItem(item.namespace, item.key, value, item.created_at, item.updated_at, item.score)
        return Item(
            value=value, key=item.key, namespace=item.namespace,
            created_at=item.created_at, updated_at=item.updated_at,
        )

    def _rewrite(self, op: Op) -> Op:
        if isinstance(op, PutOp) and op.value is not None:
            return op._replace(value=self._seal(dict(op.value)), index=False)
        if isinstance(op, SearchOp):
            if op.query:
                raise ConfigError(
                    "semantic store search (query=...) is not available on an encrypted database"
                )
            if op.filter:
                return op._replace(filter=None, limit=2**31 - 1, offset=0)
        return op

    def _finish(self, ops: list[Op], results: list[Result]) -> list[Result]:
        out: list[Result] = []
        for op, result in zip(ops, results, strict=False):
            if isinstance(op, GetOp):
                out.append(self._open(result))  # type: ignore[arg-type]
            elif isinstance(op, SearchOp):
                items = [self._open(i) for i in result]  # type: ignore[union-attr, arg-type]
                if op.filter:
                    items = [i for i in items if _matches(i.value, op.filter)]
                    items = items[op.offset : op.offset + op.limit]
                out.append(items)
            else:
                out.append(result)
        return out

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        return self._finish(ops, self.inner.batch([self._rewrite(op) for op in ops]))

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        return self._finish(ops, await self.inner.abatch([self._rewrite(op) for op in ops]))


def _matches(value: dict[str, Any], flt: dict[str, Any]) -> bool:
    from langgraph.store.memory import (
        _compare_values,  # the in-memory store's JSONB-like rules
    )

    return all(_compare_values(value.get(k), v) for k, v in flt.items())

