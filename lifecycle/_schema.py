"""The lifecycle component's tables (portable SQL: SQLite and PostgreSQL)."""

from __future__ import annotations

from stateline.checkpointing import Database, Migration

COMPONENT = "lifecycle"

MIGRATIONS: list[Migration] = [
    (
        1,
        """
        CREATE TABLE IF NOT EXISTS lifecycle_agents (
            agent TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            updated_at REAL NOT NULL,
            consecutive_failures INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE IF NOT EXISTS lifecycle_transitions (
            agent TEXT NOT NULL,
            seq INTEGER NOT NULL,
            from_status TEXT,
            to_status TEXT NOT NULL,
            reason TEXT NOT NULL,
            actor TEXT NOT NULL,
            at REAL NOT NULL,
            PRIMARY KEY (agent, seq)
        );
        CREATE TABLE IF NOT EXISTS tracking_runs (
            run_id TEXT PRIMARY KEY,
            thread_id TEXT NOT NULL,
            agent TEXT,
            kind TEXT NOT NULL,
            input TEXT,
            user_id TEXT,
            status TEXT NOT NULL,
            pid INTEGER,
            host TEXT,
            proc TEXT,
            started_at REAL NOT NULL,
            ended_at REAL,
            error_type TEXT,
            error_message TEXT,
            transient INTEGER,
            attempt INTEGER NOT NULL DEFAULT 1,
            parent_run_id TEXT,
            note TEXT
        );
        CREATE INDEX IF NOT EXISTS tracking_runs_thread ON tracking_runs(thread_id, started_at);
        CREATE INDEX IF NOT EXISTS tracking_runs_status ON tracking_runs(status);
        CREATE TABLE IF NOT EXISTS tracking_events (
            run_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            at REAL NOT NULL,
            kind TEXT NOT NULL,
            graph TEXT,
            node TEXT,
            duration_s REAL,
            error_type TEXT,
            error_message TEXT,
            detail TEXT,
            PRIMARY KEY (run_id, seq)
        );
        CREATE TABLE IF NOT EXISTS effect_ledger (
            effect_id TEXT NOT NULL UNIQUE,
            thread_id TEXT NOT NULL,
            scope TEXT NOT NULL,
            name TEXT NOT NULL,
            run_id TEXT,
            status TEXT NOT NULL,
            result TEXT,
            error TEXT,
            started_at REAL NOT NULL,
            finished_at REAL,
            resolution TEXT,
            PRIMARY KEY (thread_id, scope, name)
        );
        CREATE INDEX IF NOT EXISTS effect_ledger_status ON effect_ledger(status);
        CREATE TABLE IF NOT EXISTS thread_leases (
            thread_id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            proc TEXT,
            expires_at REAL NOT NULL
        )
        """,
    )
]


def ensure_schema(db: Database) -> None:
    """Create or upgrade the lifecycle, tracking, ledger and lease tables (idempotent)."""
    db.migrate(COMPONENT, MIGRATIONS)
    for table, columns in SEALED.items():
        db.seal_columns(table, *columns)


SEALED = {
    "tracking_runs": ("input", "error_message"),
    "tracking_events": ("error_message", "detail"),
    "effect_ledger": ("result", "error", "resolution"),
    "lifecycle_transitions": ("reason",),
}
"""Columns that can hold user content: sealed with ``Database.encrypt`` when a key is set."""
