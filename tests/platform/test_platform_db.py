"""The Platform run table's claim is atomic across processes' connections: one winner per run."""

from __future__ import annotations

import threading

from stateline.checkpointing import open_database

from stateline.server._platform_db import PlatformDB, RunRow


def test_two_claimers_of_one_pending_run_never_both_win(db_url):
    first, second = open_database(db_url), open_database(db_url)  # two pools: as two replicas
    try:
        a, b = PlatformDB(first), PlatformDB(second)
        for n in range(30):
            thread_id = f"t{n}"
            a.ensure_thread(thread_id, "alice")
            run, _ = a.create_run(RunRow(f"r{n}", thread_id, "asst", "alice", "pending", "enqueue", {}, {}))
            assert run is not None
            wins: list[bool] = []
            barrier = threading.Barrier(2)

            def claim(pdb: PlatformDB, run_id: str = f"r{n}", barrier: threading.Barrier = barrier,
                      wins: list[bool] = wins) -> None:
                barrier.wait()
                wins.append(pdb.claim(run_id, 0, None))

            workers = [threading.Thread(target=claim, args=(p,)) for p in (a, b)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            assert sorted(wins) == [False, True], f"run r{n}: {wins}"
            assert a.run(f"r{n}").status == "running"
    finally:
        first.close()
        second.close()
