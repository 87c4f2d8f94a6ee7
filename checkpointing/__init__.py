"""Where conversations live: a database from a URL, its saver, store and thread index."""

from ._database import Database, Migration, now, open_database
from ._rekey import rekey
from ._sql import Row
from ._threads import ThreadIndex, ThreadInfo
from ._url import DEFAULT_URL, DatabaseURL, parse_db_url

__all__ = [
    "DEFAULT_URL",
    "Database",
    "DatabaseURL",
    "Migration",
    "Row",
    "ThreadIndex",
    "ThreadInfo",
    "now",
    "open_database",
    "parse_db_url",
    "rekey",
]
