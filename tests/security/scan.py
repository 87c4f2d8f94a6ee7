"""Looking for plaintext around stateline: raw bytes of files, every row of every table, pg_dump."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit


def file_hits(folder: Path, marker: str) -> dict[str, int]:
    """How often ``marker``'s bytes occur in each file under ``folder`` (db, -wal, -shm, logs...)."""
    needle = marker.encode()
    hits = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            n = path.read_bytes().count(needle)
            if n:
                hits[path.name] = n
    return hits


def table_hits(url: str, marker: str) -> dict[str, int]:
    """Rows holding ``marker`` as plain text, per table, read around stateline (no key)."""
    if url.startswith("sqlite:"):
        conn = sqlite3.connect(url[len("sqlite:///"):])
        try:
            names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            found = {t: sum(marker in repr(r) for r in conn.execute(f'SELECT * FROM "{t}"')) for t in names}
        finally:
            conn.close()
    else:
        import psycopg

        with psycopg.connect(url) as conn:
            names = [r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
            found = {t: sum(marker in str(r[0]) for r in conn.execute(f'SELECT t::text FROM "{t}" t')) for t in names}
    return {t: n for t, n in found.items() if n}


def pg_dump_file(url: str, dest: Path) -> Path | None:
    """``pg_dump`` of the URL's schema into ``dest`` (None when pg_dump is not installed)."""
    exe = shutil.which("pg_dump")
    if exe is None:
        return None
    parts = urlsplit(url)
    options = parse_qs(parts.query).get("options", [""])[0]
    schema = options.split("search_path=", 1)[1] if "search_path=" in options else "public"
    plain = urlunsplit(parts._replace(query=""))
    subprocess.run([exe, "--no-owner", "-n", schema, "-f", str(dest), plain], check=True, timeout=120)
    return dest
