"""Several writers on one SQLite file: threads with their own connections, and processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from tests.checkpointing.storage_helpers import Chat, cfg

from stateline.checkpointing import open_database


def test_threads_with_own_connections_lose_nothing(db_path: Path, db):
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        mine = open_database(f"sqlite:///{db_path}")
        try:
            chat = Chat(mine)
            for turn in range(3):
                chat.say(f"w{i}", f"turn {turn}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            mine.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    chat = Chat(db)
    for i in range(6):
        assert chat.graph.get_state(cfg(f"w{i}")).values["turns"] == 3


def test_two_processes_on_one_file(db_path: Path, db):
    here = Path(__file__).parent
    root = here.parent.parent
    script = textwrap.dedent(
        f"""
        import sys
        sys.path[:0] = [{str(here)!r}, {str(root)!r}]
        from tests.checkpointing.storage_helpers import Chat
        from stateline.checkpointing import open_database
        db = open_database({f"sqlite:///{db_path}"!r})
        chat = Chat(db)
        for turn in range(4):
            chat.say("p" + sys.argv[1], f"turn {{turn}}")
        db.close()
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(i)]) for i in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    chat = Chat(db)
    for i in range(2):
        state = chat.graph.get_state(cfg(f"p{i}"))
        assert state.values["turns"] == 4 and len(state.values["messages"]) == 8
