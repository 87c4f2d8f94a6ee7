"""A real process that sends one message per thread and is SIGKILLed at a planned point.

    python -m tests.lifecycle.worker --db PATH --app jobs|storefront --crash node:act#1 \
        --thread t1 --thread t2 --message "..."

Each thread runs in its own forked child (so one interpreter start serves many threads);
the exit status is the number of children that did *not* die by SIGKILL.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from stateline._session import open_session
from stateline._app import App
from tests.lifecycle.apps import agents
from tests.lifecycle.crashpoints import CrashPlan, install


def _one(app_name: str, db: str, thread: str, message: str, plan: CrashPlan) -> None:
    if app_name == "storefront":
        app = open_session(db=f"sqlite:///{db}", example="storefront")
    else:
        app = App(agents(), db=f"sqlite:///{db}")
    install(app, plan)
    app.send(thread, message)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--app", default="jobs")
    parser.add_argument("--crash", default="")
    parser.add_argument("--thread", action="append", required=True)
    parser.add_argument("--message", required=True)
    args = parser.parse_args(argv)
    point, _, nth = args.crash.partition("#")
    plan = CrashPlan(point or None, int(nth or 1))
    survivors = 0
    for thread in args.thread:
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _one(args.app, args.db, thread, args.message, plan)
            except BaseException:  # noqa: BLE001
                import traceback

                traceback.print_exc()
                code = 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        if not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL):
            survivors += 1
    return survivors


if __name__ == "__main__":
    sys.exit(main())
