"""Re-encrypt a whole database under a new key, or turn encryption on or off.

Everything is rewritten in one transaction (a SIGKILL mid-way leaves the database as it
was, under the old key: run it again): checkpoints and pending writes (LangGraph's
tables), store values, every app-table text value sealed with ``Database.encrypt``, and the
key check value; plain values in columns components declared with ``Database.seal_columns``
are sealed too. On SQLite a full VACUUM follows, so no free page keeps an old value. Stop
every worker using the database first: one still running with the old key would write rows
the new key cannot read.
"""

from __future__ import annotations

import json

from stateline.errors import ConfigError

from ._codec import inflate
from ._crypto import SEALED_FIELD, TOKEN_PREFIX, Cipher, parse_key
from ._database import Database, open_database
from ._segments import decode, encode, map_payloads
from ._sql import Transaction

# (table, type column, payload column) LangGraph writes through the saver's serializer
_SAVER_TABLES = {
    "sqlite": [
        ("sl_checkpoints", "type", "checkpoint"), ("sl_blobs", "type", "blob"), ("sl_writes", "type", "value"),
        ("checkpoints", "type", "checkpoint"), ("writes", "type", "value"),
    ],
    "postgres": [("checkpoint_blobs", "type", "blob"), ("checkpoint_writes", "type", "blob")],
}
_NOT_APP_TABLES = {
    "sl_checkpoints", "sl_blobs", "sl_writes", "sl_segments", "checkpoints", "writes", "checkpoint_blobs",
    "checkpoint_writes", "checkpoint_migrations", "store", "store_vectors", "store_migrations", "vector_migrations",
    "stateline_schema", "stateline_meta",
}


def rekey(url: str, old_key: str | bytes | None, new_key: str | bytes | None) -> None:
    """Re-encrypt the database at ``url`` from ``old_key`` to ``new_key``.

    ``old_key=None`` encrypts an unencrypted SQLite database (its app tables' plain values
    stay plain: only what was sealed is re-sealed); ``new_key=None`` decrypts everything.
    A wrong ``old_key`` is an EncryptionKeyError and changes nothing.
    """
    if old_key is None and new_key is None:
        raise ConfigError("rekey needs an old key, a new key, or both")
    old = Cipher(parse_key(old_key)) if old_key is not None else None
    new = Cipher(parse_key(new_key)) if new_key is not None else None
    db = open_database(url, key=old_key if old_key is not None else False)
    try:
        backend = db.url.backend
        if backend == "memory":
            return
        if backend == "postgres" and old is None:
            raise ConfigError(
                "encrypting an existing unencrypted PostgreSQL database is not supported "
                "(its checkpoints keep plain values inline); create a new database with the key"
            )
        with db.transaction() as tx:
            for table, type_col, data_col in _SAVER_TABLES[backend]:
                if _exists(db, table):
                    _rekey_saver_table(tx, db, table, type_col, data_col, old, new)
            if backend == "sqlite" and _exists(db, "sl_segments"):
                _rekey_segments(tx, old, new)
            if _exists(db, "store"):
                _rekey_store(tx, db, old, new)
            sealed = db.sealed_columns()
            for table in _app_tables(db):
                _rekey_app_table(tx, db, table, old, new, sealed.get(table, []))
            check = new.seal("stateline key check v1") if new is not None else "none"
            tx.execute("UPDATE stateline_meta SET value = ? WHERE name = 'encryption'", (check,))
        if backend == "sqlite":
            # a full VACUUM rebuilds the file from live rows, so no page of it (or of the WAL,
            # emptied after) keeps a value sealed with the old key, or a plain one
            from ._retention import vacuum

            vacuum(db, full=True)
    finally:
        db.close()


def _rowid(db: Database, table: str) -> str:
    if db.url.backend != "sqlite":
        return "ctid::text"
    keys = _primary_key(db, table)
    # WITHOUT ROWID tables (stateline's saver) have no rowid: their primary key, quoted, is the id
    return "rowid" if not keys else " || char(31) || ".join(f'quote("{k}")' for k in keys)


def _where_rowid(db: Database, table: str) -> str:
    if db.url.backend != "sqlite":
        return "ctid = CAST(? AS tid)"
    return f"{_rowid(db, table)} = ?"


def _primary_key(db: Database, table: str) -> list[str]:
    if not _without_rowid(db, table):
        return []
    rows = db.query(f'PRAGMA table_info("{table}")')
    return [r["name"] for r in sorted((r for r in rows if r["pk"]), key=lambda r: r["pk"])]


def _without_rowid(db: Database, table: str) -> bool:
    row = db.query_one("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
    return row is not None and "WITHOUT ROWID" in str(row["sql"]).upper()


def _exists(db: Database, table: str) -> bool:
    if db.url.backend == "sqlite":
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    else:
        sql = "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?"
    return db.query_one(sql, (table,)) is not None


def _app_tables(db: Database) -> list[str]:
    if db.url.backend == "sqlite":
        rows = db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    else:
        rows = db.query("SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()")
    return sorted(r["name"] for r in rows if r["name"] not in _NOT_APP_TABLES)


def _reseal_bytes(data: bytes, typ: str, old: Cipher | None, new: Cipher | None) -> tuple[str, bytes]:
    typ, data = inflate(typ, data)  # stateline's saver compressed it: unwrap first
    if "+" in typ:
        base, ciphername = typ.split("+", 1)
        if old is None:
            raise ConfigError(f"found a value sealed with {ciphername!r} in a database recorded as unencrypted")
        data = old.decrypt(ciphername, data)
    else:
        base = typ
    if new is None:
        return base, data
    ciphername, sealed = new.encrypt(data)
    return f"{base}+{ciphername}", sealed


def _rekey_saver_table(tx: Transaction, db: Database, table: str, type_col: str, data_col: str,
                       old: Cipher | None, new: Cipher | None) -> None:
    rows = tx.execute(
        f'SELECT {_rowid(db, table)} AS rid, "{type_col}" AS typ, "{data_col}" AS data FROM "{table}" '
        f'WHERE "{data_col}" IS NOT NULL AND "{type_col}" IS NOT NULL AND "{type_col}" <> \'empty\''
    ).fetchall()
    for row in rows:
        typ, data = _reseal_bytes(bytes(row["data"]), row["typ"], old, new)
        tx.execute(
            f'UPDATE "{table}" SET "{type_col}" = ?, "{data_col}" = ? WHERE {_where_rowid(db, table)}',
            (typ, data, row["rid"]),
        )


def _rekey_segments(tx: Transaction, old: Cipher | None, new: Cipher | None) -> None:
    """Archived checkpoints (``_segments``): every value inside re-sealed like a row's."""
    rows = tx.execute("SELECT thread_id, checkpoint_ns, last_id, type, data FROM sl_segments").fetchall()
    for thread_id, ns, last_id, type_, data in rows:
        segment = map_payloads(decode(type_, bytes(data)), lambda t, d: _reseal_bytes(d, t, old, new))
        tx.execute(
            "UPDATE sl_segments SET data = ? WHERE thread_id = ? AND checkpoint_ns = ? AND last_id = ?",
            (encode(segment), thread_id, ns, last_id),
        )


def _rekey_store(tx: Transaction, db: Database, old: Cipher | None, new: Cipher | None) -> None:
    pg = db.url.backend == "postgres"
    table = "store"
    rows = tx.execute(f"SELECT {_rowid(db, table)} AS rid, value FROM store").fetchall()
    for row in rows:
        value = row["value"] if pg else json.loads(row["value"])
        sealed = value.get(SEALED_FIELD) if isinstance(value, dict) else None
        if isinstance(sealed, str):
            assert old is not None
            plain = json.loads(old.open(sealed))
        else:
            plain = value
        out = {SEALED_FIELD: new.seal(json.dumps(plain, separators=(",", ":")))} if new is not None else plain
        tx.execute(
            f"UPDATE store SET value = {'CAST(? AS jsonb)' if pg else '?'} WHERE {_where_rowid(db, table)}",
            (json.dumps(out), row["rid"]),
        )


def _rekey_app_table(tx: Transaction, db: Database, table: str, old: Cipher | None, new: Cipher | None,
                     declared: list[str]) -> None:
    """Re-seal every sealed value; with a new key also seal plain values in ``declared`` columns
    (rows written before the key was set, or by a version that did not seal them)."""
    rows = tx.execute(f'SELECT {_rowid(db, table)} AS stl_rid, * FROM "{table}"').fetchall()
    for row in rows:
        changes = {}
        for col in row.keys()[1:]:
            value = row[col]
            if isinstance(value, str) and value.startswith(TOKEN_PREFIX):
                if old is None:
                    raise ConfigError(f"table {table!r} holds a sealed value but the database was unencrypted")
                plain = old.open(value)
                changes[col] = new.seal(plain) if new is not None else plain
            elif new is not None and col in declared and isinstance(value, (str, bytes)):
                changes[col] = new.seal(value)
        if changes:
            sets = ", ".join(f'"{c}" = ?' for c in changes)
            tx.execute(
                f'UPDATE "{table}" SET {sets} WHERE {_where_rowid(db, table)}', (*changes.values(), row["stl_rid"])
            )
