"""Wake readers on other replicas at once: PostgreSQL ``LISTEN/NOTIFY`` beside the stored events.

The events table stays the truth (a reader always reads events from it); a notification
only says "thread T has something new", so a reader on another replica reads now instead
of at its next poll. A lost notification (a reconnect, SQLite) costs at most one poll
interval. Notifications of one thread are sent at most every ``MIN_GAP`` seconds while a
turn streams; the run's end always notifies.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("stateline.server.platform")
CHANNEL = "stateline_platform"
MIN_GAP = 0.03


class PgWake:
    """A listening connection (its own thread) and throttled ``pg_notify`` calls."""

    def __init__(self, db: Any, on_notify: Callable[[str], None]) -> None:
        self.db = db
        self.dsn: str = db.url.dsn
        self.on_notify = on_notify
        self._last: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="stateline-platform-listen", daemon=True)
        self._thread.start()

    def notify(self, thread_id: str, *, force: bool = False) -> None:
        t = time.monotonic()
        if not force and t - self._last.get(thread_id, 0.0) < MIN_GAP:
            return
        self._last[thread_id] = t
        if len(self._last) > 10_000:
            self._last.clear()
        try:
            self.db.query("SELECT pg_notify(?, ?)", (CHANNEL, thread_id))
        except Exception:
            log.debug("pg_notify failed", exc_info=True)

    def stop(self) -> None:
        self._stop.set()

    def _listen(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self.on_notify(note.payload)
            except Exception:
                log.debug("LISTEN connection lost; reconnecting", exc_info=True)
                self._stop.wait(1.0)


def wake_for(db: Any, on_notify: Callable[[str], None]) -> PgWake | None:
    """A :class:`PgWake` on PostgreSQL; None elsewhere (one process per SQLite file polls)."""
    if getattr(db.url, "backend", None) != "postgres" or not getattr(db.url, "dsn", None):
        return None
    return PgWake(db, on_notify)
