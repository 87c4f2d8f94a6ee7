"""Where conversations live: a database from a URL, its saver, store and thread index."""

from ._backup import BackupReport, CheckReport
from ._backup import backup as backup_database
from ._backup import check as check_database
from ._backup import restore as restore_database
from ._database import Database, Migration, now, open_database
from ._rekey import rekey
from ._readonly import has_table
from ._sql import Row
from ._policy import (
    AutoRetention,
    RetentionReport,
    apply_retention,
    head_is_idle,
    head_is_unfinished,
    unfinished_threads,
)
from ._history import delete_thread, fork, iter_history, rewind
from ._retention import (
    ThreadCleanup,
    delete_idle_threads,
    on_threads_deleted,
    prune,
    remove_thread_cleanup,
    vacuum,
)
from ._pg_async import StatelineAsyncPostgresSaver
from ._pg_saver import StatelinePostgresSaver
from ._lists import SHARED_READ_KEY
from ._saver import StatelineSqliteSaver
from ._threads import ThreadIndex, ThreadInfo
from ._url import DEFAULT_URL, DatabaseURL, parse_db_url

__all__ = [
    "SHARED_READ_KEY",
    "AutoRetention",
    "BackupReport",
    "CheckReport",
    "DEFAULT_URL",
    "Database",
    "DatabaseURL",
    "Migration",
    "RetentionReport",
    "Row",
    "StatelineAsyncPostgresSaver",
    "StatelinePostgresSaver",
    "StatelineSqliteSaver",
    "ThreadCleanup",
    "ThreadIndex",
    "ThreadInfo",
    "apply_retention",
    "backup_database",
    "check_database",
    "delete_idle_threads",
    "delete_thread",
    "fork",
    "has_table",
    "head_is_idle",
    "head_is_unfinished",
    "iter_history",
    "now",
    "on_threads_deleted",
    "open_database",
    "parse_db_url",
    "prune",
    "rekey",
    "restore_database",
    "remove_thread_cleanup",
    "rewind",
    "unfinished_threads",
    "vacuum",
]
