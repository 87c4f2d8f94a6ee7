"""PostgreSQL URLs: malformed, unreachable and refused ones fail fast with a message saying what to fix."""

from __future__ import annotations

import socket
import time

import pytest

from stateline.checkpointing import open_database
from stateline.checkpointing._pg import redact, translate_ddl, translate_placeholders
from stateline.errors import ConfigError, StorageError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_is_a_prompt_storage_error() -> None:
    url = f"postgresql://someone:hunter2@127.0.0.1:{_free_port()}/app"
    start = time.monotonic()
    with pytest.raises(StorageError, match=r"cannot reach PostgreSQL at 127.0.0.1:\d+ .*start the server") as err:
        open_database(url)
    assert time.monotonic() - start < 10
    assert "hunter2" not in str(err.value) and "\n" not in str(err.value)


def test_silent_server_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host that takes the connection but never answers: the connect timeout fires."""
    from stateline.checkpointing import _pg

    monkeypatch.setattr(_pg, "CONNECT_TIMEOUT_S", 1)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # never accepted, never answered
        port = silent.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(StorageError, match=f"cannot reach PostgreSQL at 127.0.0.1:{port}"):
            open_database(f"postgresql://u:p@127.0.0.1:{port}/db")
        assert time.monotonic() - start < 5


@pytest.mark.parametrize(
    "url, fragment",
    [
        ("postgresql://u@localhost:port/db", "port 'port' is not a number"),
        ("postgresql://u@[::1/db", "malformed PostgreSQL URL"),
        ("postgresql://u@h/db?nonsense=1", "malformed PostgreSQL URL"),
        ("mysql://u@h/db", "unsupported database URL scheme 'mysql'"),
        ("sqlite://relative.db", "malformed SQLite URL"),
    ],
)
def test_malformed_url_is_a_config_error(url: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[").replace("?", r"\?")):
        open_database(url)


def test_bad_credentials_and_missing_database(pg_url: str) -> None:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(pg_url)
    wrong_pw = urlunsplit(
        parts._replace(netloc=f"{parts.username}:not-the-password@{parts.hostname}:{parts.port or 5432}")
    )
    with pytest.raises(StorageError, match="refused the credentials .*fix the user or password") as err:
        open_database(wrong_pw)
    assert "not-the-password" not in str(err.value)
    with pytest.raises(StorageError, match="does not exist .*create it"):
        open_database(urlunsplit(parts._replace(path="/stl_no_such_db")))


def test_placeholder_translation() -> None:
    sql = "SELECT '?', \"a?b\", x FROM t WHERE a = ? AND b LIKE '5%' -- why?\n AND c = ?"
    assert translate_placeholders(sql) == (
        "SELECT '?', \"a?b\", x FROM t WHERE a = %s AND b LIKE '5%%' -- why?\n AND c = %s"
    )
    assert translate_placeholders("SELECT 'it''s ?' , ?") == "SELECT 'it''s ?' , %s"


def test_ddl_translation_widens_sqlite_types() -> None:
    assert translate_ddl("CREATE TABLE t (a INTEGER, b REAL, c BLOB, d TEXT)") == (
        "CREATE TABLE t (a BIGINT, b DOUBLE PRECISION, c BYTEA, d TEXT)"
    )
    assert translate_ddl("INSERT INTO t VALUES ('REAL')") == "INSERT INTO t VALUES ('REAL')"


def test_redact_hides_password() -> None:
    assert redact("postgresql://u:secret@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"
