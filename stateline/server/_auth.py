"""API tokens -> users, and the append-only audit log of who read or changed what.

Tokens come from ``STATELINE_TOKENS`` (``token=user,token2=admin-user:admin``) and/or a
tokens file (``--tokens-file`` or ``STATELINE_TOKENS_FILE``; TOML or JSON)::

    [[tokens]]
    token = "a-long-random-string"
    user = "alice"
    role = "user"        # or "admin": sees every thread

Only SHA-256 digests of the tokens are kept in memory.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stateline.checkpointing import Database, Migration, now
from stateline._ids import check_id, new_id
from stateline.errors import ConfigError

ROLES = ("user", "admin")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user id and whether they may see every thread."""

    user_id: str
    role: str = "user"

    @property
    def admin(self) -> bool:
        return self.role == "admin"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenTable:
    """Maps API tokens to principals."""

    def __init__(self, entries: Mapping[str, Principal] | None = None) -> None:
        self._by_digest: dict[str, Principal] = {}
        for token, principal in (entries or {}).items():
            self.add(token, principal)

    def add(self, token: str, principal: Principal) -> None:
        if not isinstance(token, str) or len(token) < 8:
            raise ConfigError(f"API token for user {principal.user_id!r} must be a string of at least 8 characters")
        check_id("user id", principal.user_id)
        if principal.role not in ROLES:
            raise ConfigError(
                f"role {principal.role!r} of user {principal.user_id!r} must be one of {', '.join(ROLES)}"
            )
        self._by_digest[_digest(token)] = principal

    def lookup(self, token: str | None) -> Principal | None:
        if not token:
            return None
        return self._by_digest.get(_digest(token))

    def __len__(self) -> int:
        return len(self._by_digest)


def _parse_env(value: str) -> dict[str, Principal]:
    out: dict[str, Principal] = {}
    for item in filter(None, (p.strip() for p in value.split(","))):
        token, sep, who = item.partition("=")
        if not sep or not who:
            raise ConfigError(f"STATELINE_TOKENS entry {item[:4]}... must look like token=user or token=user:admin")
        user, _, role = who.partition(":")
        out[token.strip()] = Principal(user.strip(), role.strip() or "user")
    return out


def _parse_file(path: Path) -> dict[str, Principal]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"tokens file {str(path)!r} cannot be read: {exc}") from exc
    try:
        data: Any = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"tokens file {str(path)!r} is not valid {path.suffix.lstrip('.') or 'TOML'}: {exc}") from exc
    rows = data.get("tokens") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and "token" in r and "user" in r for r in rows):
        raise ConfigError(f"tokens file {str(path)!r} needs a list 'tokens' of {{token, user, role}} entries")
    return {str(r["token"]): Principal(str(r["user"]), str(r.get("role", "user"))) for r in rows}


def load_tokens(file: str | None, env: Mapping[str, str]) -> TokenTable:
    """The token table from the environment and an optional file (both may be given)."""
    entries: dict[str, Principal] = {}
    if env.get("STATELINE_TOKENS"):
        entries.update(_parse_env(env["STATELINE_TOKENS"]))
    path = file or env.get("STATELINE_TOKENS_FILE")
    if path:
        entries.update(_parse_file(Path(path)))
    return TokenTable(entries)


def dev_token() -> str:
    """A fresh random token, for a server started without any configured."""
    return secrets.token_urlsafe(24)


AUDIT_MIGRATIONS: list[Migration] = [
    (
        1,
        """
        CREATE TABLE IF NOT EXISTS audit_log (
            audit_id TEXT PRIMARY KEY,
            at REAL NOT NULL,
            user_id TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT,
            outcome INTEGER NOT NULL,
            detail TEXT
        );
        CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log(at);
        CREATE INDEX IF NOT EXISTS audit_log_user ON audit_log(user_id, at)
        """,
    ),
    (
        2,
        """
        ALTER TABLE audit_log ADD COLUMN thread_id TEXT;
        CREATE INDEX IF NOT EXISTS audit_log_thread ON audit_log(thread_id, at)
        """,
    ),
]
ANONYMOUS = "-"
"""The user id of an audit row for a request without a known token (its outcome is 401)."""


class AuditLog:
    """Append-only: rows are only ever inserted, never updated or deleted by stateline
    (the API can only read it: ``GET /api/audit``, admins only).

    A row says who (``user_id``; ``-`` without a known token), what (``action``, and
    ``target``: the thread, run, agent or path acted on), which thread (``thread_id``),
    when (``at``) and the outcome (the HTTP status); ``detail`` (sealed) says more.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        db.migrate("audit_log", AUDIT_MIGRATIONS)
        db.seal_columns("audit_log", "detail")

    def record(self, user_id: str, action: str, target: str | None, outcome: int, detail: str | None = None,
               *, thread_id: str | None = None) -> None:
        self._db.execute(
            "INSERT INTO audit_log(audit_id, at, user_id, action, target, outcome, detail, thread_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (new_id(), now(), user_id, action, target, outcome, self._db.encrypt(detail), thread_id),
        )

    def rows(self, *, user_id: str | None = None, target: str | None = None, thread_id: str | None = None,
             limit: int = 200) -> list[dict[str, Any]]:
        where, params = [], []
        if thread_id is not None:
            where.append("thread_id = ?")
            params.append(thread_id)
        if user_id is not None:
            where.append("user_id = ?")
            params.append(user_id)
        if target is not None:
            where.append("target = ?")
            params.append(target)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._db.query(f"SELECT * FROM audit_log{clause} ORDER BY at DESC LIMIT ?", (*params, limit))
        return [{**dict(r), "detail": self._db.decrypt(r["detail"])} for r in rows]
