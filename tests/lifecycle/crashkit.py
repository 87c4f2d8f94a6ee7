"""Crash harness: the storefront conversation in real processes killed with SIGKILL, then recovered.

The parent process imports everything once and forks a child per attempt (real processes,
real SIGKILL, no interpreter start per kill). A child arms one kill point (or the parent
kills it after a random delay), recovers what the previous child left, and continues the
conversation; the series ends when a child gets through it alive. A forked verifier then
compares the database with an uninterrupted run.

Two flavors: ``stateline`` (App with tracking, ledger, recover) and ``plain`` (the same
graph on plain LangGraph: default durability, publish without a ledger, and the usual
restart recipe ``if get_state(cfg).next: invoke(None, cfg)``).

    python -m tests.lifecycle.crashkit --flavor stateline --kills 30 --seed 1 --workdir /tmp/x
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import signal
import sqlite3
import sys
import time
import traceback
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.sqlite import SqliteSaver

from stateline.checkpointing import now, open_database
from stateline.examples.storefront import create_agents
from stateline.graphs import AgentRegistry, HookSet, build_supervisor
from stateline.nodes import OfflineProvider
from stateline._session import open_session
from tests.lifecycle.crashpoints import Crasher, CrashPlan, install

THREAD = "shop"
SCRIPT = [
    "Hi! I'd like to sell a product: title Red Ceramic Mug, price 12.50",
    "Hmm, what price should I charge? cost 6, margin 45%",
    "OK, back to my listing: category kitchen",
    "description: A sturdy 300 ml mug, dishwasher safe",
    "What is the total revenue for kitchen?",
    "I want to sell another product: title Garden Gnome, price 20",
    "description: A cheerful gnome for any lawn",
    "Which is the best seller in toys?",
]
TITLES = ["Red Ceramic Mug", "Garden Gnome"]
POINTS = [
    ("run:started", 8), ("node:route", 8), ("node:collect", 6), ("node:validate", 6), ("node:act", 4),
    ("node:act:after", 4), ("effect:publish:before", 2), ("effect:publish:after", 2),
    ("checkpoint:put", 40), ("checkpoint:put:after", 40), ("checkpoint:writes", 40), ("checkpoint:commit", 60),
    ("delay", 0), ("delay", 0), ("delay", 0),  # random moments find what named points miss
]
MAX_CHILDREN = 60
BAD = (
    "lost_turns", "duplicated_turns", "duplicated_effects", "missing_effects", "unrecoverable_threads",
    "state_mismatches",
)
_LISTING = re.compile(r"listing [0-9a-f]{6,}")


# -- the two applications -----------------------------------------------------------------
def _stateline_app(db: str, plan: CrashPlan) -> Any:
    app = open_session(db=f"sqlite:///{db}", example="storefront")
    install(app, plan)
    return app


class PlainShop:
    """The storefront graph on plain LangGraph: no tracking, no ledger, default durability."""

    def __init__(self, db: str, plan: CrashPlan) -> None:
        self.crasher = Crasher(plan)
        self.database = open_database(f"sqlite:///{db}")  # app tables (catalog, sales)
        agents = create_agents(self.database)
        database = self.database

        def publish(item: Any) -> str:  # what a LangGraph user writes: no ledger, a fresh id
            import uuid

            def insert() -> str:
                listing_id = uuid.uuid4().hex[:16]
                database.execute(
                    "INSERT INTO catalog VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (listing_id, THREAD, item.title, item.price, item.category, item.description, now()),
                )
                return listing_id

            listing_id = self.crasher.wrap_effect("publish", insert)()
            return f"Published {item.title!r} in {item.category} at ${item.price:.2f} (listing {listing_id})."

        agents = [replace(a, act=publish) if a.name == "listing" else a for a in agents]
        self.conn = sqlite3.connect(db, check_same_thread=False)
        saver = SqliteSaver(self.conn)
        self.crasher.patch_saver(saver)
        self.graph = build_supervisor(
            AgentRegistry(agents), provider=OfflineProvider(), hooks=HookSet([self.crasher]), checkpointer=saver
        )
        self.cfg = {"configurable": {"thread_id": THREAD}}
        self.journal = Path(db + ".journal")

    def accepted(self) -> list[str]:
        return self.journal.read_text().splitlines() if self.journal.exists() else []

    def recover(self) -> bool:
        """The documented restart recipe; False when it leaves an unfinished thread behind."""
        if self.graph.get_state(self.cfg).next:
            try:
                self.graph.invoke(None, self.cfg)
            except Exception:  # noqa: BLE001
                return False
        return not self.graph.get_state(self.cfg, subgraphs=True).tasks

    def send(self, text: str) -> None:
        with open(self.journal, "a") as fh:  # accepted: the client handed it over
            fh.write(text + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.graph.invoke({"messages": [HumanMessage(text)]}, self.cfg)


# -- one child process --------------------------------------------------------------------
def _catalog_has(app: Any, listing_id: str) -> bool:
    return app.database.query_one("SELECT 1 FROM catalog WHERE listing_id = ?", (listing_id,)) is not None


def resolve_in_doubt(app: Any, log: Path) -> int:
    """The operator's procedure: look the idempotency key up in the catalog, then mark done or redo."""
    n = 0
    for effect in app.ops.ledger.in_doubt():
        listing_id = hashlib.sha256(f"{effect.thread_id}|{effect.scope}|listing".encode()).hexdigest()[:16]
        if _catalog_has(app, listing_id):
            app.ops.ledger.resolve(effect.effect_id, done=True, value=listing_id, note="found in catalog")
        else:
            app.ops.ledger.resolve(effect.effect_id, redo=True, note="not in catalog")
        n += 1
        with open(log, "a") as fh:
            fh.write(effect.effect_id + "\n")
    return n


ENTRIES = ("send", "stream", "worker")
"""How a stateline child hands its messages over (``--entry``)."""


def child(flavor: str, db: str, plan: CrashPlan, entry: str = "send", recover_first: bool = True) -> int:
    """Recover what an earlier child left (unless ``recover_first`` is off: then the next ordinary
    message must do it), then continue the conversation. Exit 0 when it is complete."""
    if flavor == "stateline" and not recover_first:
        return _next_message_child(db, plan, entry)
    if flavor == "plain":
        shop = PlainShop(db, plan)
        if not shop.recover():  # carry on with the next message, as a plain LangGraph app would
            _note(db, "stuck", "restart recipe left unfinished tasks")
        done = set(shop.accepted())
        for text in SCRIPT:
            if text not in done:
                try:
                    shop.send(text)
                except Exception:  # noqa: BLE001
                    pass
        return 0
    app = _stateline_app(db, plan)
    for _ in range(3):
        report = app.recover()
        for action in report.actions:
            if action.outcome in ("unrecoverable", "failed", "gave_up"):
                _note(db, "stuck", f"{action.outcome}: {action.detail}")
        if not resolve_in_doubt(app, Path(db + ".indoubt")):
            break
    accepted = {r.input for r in app.ops.runs.thread_runs(THREAD) if r.kind == "turn"}
    for text in SCRIPT:
        if text not in accepted:
            app.send(THREAD, text)
    return 0


def _next_message_child(db: str, plan: CrashPlan, entry: str) -> int:
    """No ``recover``: the user just goes on — the next message (by ``send``, ``stream`` or a queued
    job) must finish whatever a crash left. An effect in doubt refuses it until the operator step."""
    from stateline._worker import Worker
    from stateline.errors import ThreadInDoubtError, TurnNotAcceptedError
    from stateline.lifecycle._queue import RunQueue

    app = _stateline_app(db, plan)
    doubt_log = Path(db + ".indoubt")

    def deliver(action: Any) -> None:
        for _ in range(10):
            try:
                action()
                return
            except ThreadInDoubtError:
                resolve_in_doubt(app, doubt_log)  # the operator step; then the message is sent again
            except TurnNotAcceptedError:
                time.sleep(0.01)
        _note(db, "stuck", "a message was refused ten times")

    if entry == "worker":
        queue = RunQueue(app.database, lease_s=0.3)
        queued = {j.message for j in queue.list(thread_id=THREAD, limit=1000)}
        for text in SCRIPT:
            if text not in queued:
                queue.enqueue(THREAD, text)
        worker = Worker(app, lease_s=0.3, poll_s=0.01, blocked_retry_s=0.2)  # > 0: until_idle returns
        for _ in range(200):
            worker.run(until_idle=True)
            jobs = queue.list(thread_id=THREAD, limit=1000)
            if all(j.status in ("done", "failed") for j in jobs):
                return 0
            if app.ops.ledger.in_doubt(thread_id=THREAD):
                resolve_in_doubt(app, doubt_log)
            time.sleep(0.05)  # a dead worker's job lease runs out
        _note(db, "stuck", "queued jobs never finished")
        return 0
    accepted = {r.input for r in app.ops.runs.thread_runs(THREAD) if r.kind == "turn"}
    for text in SCRIPT:
        if text not in accepted:
            if entry == "stream":
                deliver(lambda text=text: list(app.stream(THREAD, text)))
            else:
                deliver(lambda text=text: app.send(THREAD, text))

    def finish() -> None:  # no next message is left: the user's "continue" (the server's resume)
        from stateline.errors import ThreadStateError

        try:
            app.resume(THREAD)
        except ThreadStateError as exc:
            if exc.status not in ("idle",):
                raise

    deliver(finish)
    return 0


def _note(db: str, kind: str, text: str) -> None:
    with open(f"{db}.{kind}", "a") as fh:
        fh.write(text.replace("\n", " ") + "\n")


def _fork(fn: Any, *args: Any) -> int:
    pid = os.fork()
    if pid == 0:  # the child: never return into the parent's code
        code = 1
        try:
            code = fn(*args)
        except BaseException:  # noqa: BLE001
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    return pid


# -- a series and its verdict ----------------------------------------------------------------
@dataclass
class Tally:
    series: int = 0
    kills: int = 0
    turns: int = 0
    lost_turns: int = 0
    duplicated_turns: int = 0
    duplicated_effects: int = 0
    missing_effects: int = 0
    in_doubt_effects: int = 0
    unrecoverable_threads: int = 0
    state_mismatches: int = 0
    seconds: float = 0.0
    points: dict[str, int] = field(default_factory=dict)

    def add(self, other: dict[str, Any]) -> None:
        for k, v in other.items():
            if k == "points":
                for p, n in v.items():
                    self.points[p] = self.points.get(p, 0) + n
            elif k != "seconds":
                setattr(self, k, getattr(self, k) + v)


def _pick(rng: random.Random, todo: set[str]) -> tuple[str, int]:
    """A kill point and its ``top``: one still to cover when there is one, else any of ``POINTS``."""
    choices = [p for p in POINTS if p[0] in todo] or POINTS
    return rng.choice(choices)


def series(
    flavor: str, db: str, rng: random.Random, points: Counter, entry: str = "send", recover_first: bool = True,
    todo: set[str] | None = None,
) -> tuple[int, bool]:
    """Children until one completes the conversation; (kills, completed). ``todo``: points not yet
    killed in this entry (chosen first; a kill there removes it)."""
    kills = 0
    todo = set() if todo is None else todo
    for _ in range(MAX_CHILDREN):
        point, top = _pick(rng, todo)
        plan = CrashPlan(None if point == "delay" else point, rng.randint(1, max(1, top)))
        pid = _fork(child, flavor, db, plan, entry, recover_first)
        if point == "delay":
            time.sleep(rng.uniform(0.0, 0.25))
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
            kills += 1
            points[f"{entry} {point}"] += 1
            todo.discard(point)
            continue
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            return kills, True
        return kills, False  # the child failed: nothing more to recover with
    return kills, False


def _normalize(messages: list[Any]) -> list[tuple[str, str | None, str]]:
    out = []
    for m in messages:
        role = "user" if isinstance(m, HumanMessage) else "assistant" if isinstance(m, AIMessage) else m.type
        out.append((role, getattr(m, "name", None), _LISTING.sub("listing <id>", str(m.content))))
    return out


def _final_state(flavor: str, db: str) -> tuple[list[Any], str, int]:
    """(messages, status, runs still 'running')."""
    if flavor == "plain":
        shop = PlainShop(db, CrashPlan(None))
        snap = shop.graph.get_state(shop.cfg, subgraphs=True)
        status = "idle" if not snap.tasks else "unfinished"
        return list((snap.values or {}).get("messages") or []), status, 0
    app = _stateline_app(db, CrashPlan(None))
    snap = app.graph.get_state({"configurable": {"thread_id": THREAD}})
    running = len(app.ops.runs.list(thread_id=THREAD, status="running"))
    return list((snap.values or {}).get("messages") or []), app.status(THREAD), running


def verify(flavor: str, db: str, reference: str, out: str, completed: bool) -> int:
    messages, status, running = _final_state(flavor, db)
    got = _normalize(messages)
    humans = Counter(text for role, _, text in got if role == "user")
    answered = Counter(
        got[i][2] for i in range(len(got)) if got[i][0] == "user" and i + 1 < len(got) and got[i + 1][0] == "assistant"
    )
    conn = sqlite3.connect(db)
    titles = Counter(r[0] for r in conn.execute("SELECT title FROM catalog WHERE thread_id = ?", (THREAD,)))
    conn.close()
    doubt_log = Path(db + ".indoubt")
    result = {
        "turns": len(SCRIPT),
        "lost_turns": sum(1 for t in SCRIPT if answered[t] == 0),
        "duplicated_turns": sum(max(0, n - 1) for n in humans.values()),
        "duplicated_effects": sum(max(0, titles[t] - 1) for t in TITLES),
        "missing_effects": sum(1 for t in TITLES if titles[t] == 0),
        "in_doubt_effects": len(doubt_log.read_text().splitlines()) if doubt_log.exists() else 0,
        "unrecoverable_threads": int(not completed or status != "idle" or running > 0 or Path(db + ".stuck").exists()),
        "state_mismatches": int(json.loads(json.dumps(got)) != json.loads(Path(reference).read_text())),
    }
    Path(out).write_text(json.dumps(result))
    return 0


def _reference(flavor: str, workdir: Path) -> str:
    db = str(workdir / f"reference-{flavor}.db")
    pid = _fork(child, flavor, db, CrashPlan(None))
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "the uninterrupted run failed"

    def dump() -> int:
        Path(db + ".ref.json").write_text(json.dumps(_normalize(_final_state(flavor, db)[0])))
        return 0

    _, status = os.waitpid(_fork(dump), 0)
    assert os.WEXITSTATUS(status) == 0, "could not read the reference run"
    return db + ".ref.json"


def cover_targets(entries: tuple[str, ...], share: tuple[int, int], seed: int) -> dict[str, set[str]]:
    """Entry -> the points this harness must kill in it: every point of ``POINTS`` once, each in
    one of the entries (the points shuffled by ``seed``, dealt to the entries in turn), the pairs
    dealt round-robin to ``share[1]`` harness processes (this one is number ``share[0]``)."""
    names = sorted({p for p, _ in POINTS})
    random.Random(seed).shuffle(names)
    pairs = [(entries[i % len(entries)], p) for i, p in enumerate(names)]
    mine = pairs[share[0]::share[1]]
    return {e: {p for pe, p in mine if pe == e} for e in entries}


def run(
    flavor: str, kills: int, seed: int, workdir: Path, max_series: int = 10_000, entries: tuple[str, ...] = ("send",),
    recover_first: bool = True, cover: tuple[int, int] | None = None,
) -> Tally:
    """Series after series until at least ``kills`` processes were killed and, with ``cover``
    (this process's share, see ``cover_targets``), every point of its share was killed in its
    entry at least once; the summed tallies."""
    start = time.perf_counter()
    workdir.mkdir(parents=True, exist_ok=True)
    reference = _reference(flavor, workdir)
    rng = random.Random(f"{seed}/{cover[0]}" if cover else seed)  # sharing processes: one seed, own draws
    tally, points = Tally(), Counter()
    todo = cover_targets(entries, cover, seed) if cover else {e: set() for e in entries}
    while (tally.kills < kills or any(todo.values())) and tally.series < max_series:
        db = str(workdir / f"{flavor}-{seed}-{tally.series}.db")
        waiting = [e for e in entries if todo[e]] or list(entries)  # entries with points to cover go first
        entry = waiting[tally.series % len(waiting)]  # entry points take turns, series by series
        n, completed = series(flavor, db, rng, points, entry, recover_first, todo[entry])
        out = db + ".verdict.json"
        _, status = os.waitpid(_fork(verify, flavor, db, reference, out, completed), 0)
        verdict = json.loads(Path(out).read_text()) if Path(out).exists() else {"unrecoverable_threads": 1}
        tally.add({"series": 1, "kills": n, **verdict})
        if any(verdict.get(k) for k in BAD):
            print(f"bad series {db}: {verdict}", file=sys.stderr)
    tally.points = dict(points)
    tally.seconds = round(time.perf_counter() - start, 2)
    return tally


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flavor", choices=("stateline", "plain"), default="stateline")
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--entry", action="append", choices=ENTRIES,
                        help="how messages are handed over (repeat: series take turns); default send")
    parser.add_argument("--no-recover", action="store_true",
                        help="never call recover: the next ordinary message must finish what a crash left")
    parser.add_argument("--cover", metavar="I/N",
                        help="also go on until every point was killed once, each in one of the entries, the "
                             "points dealt to N harness processes given the same --seed (this is number I, from 0)")
    parser.add_argument("--max-series", type=int, default=10_000, help="stop after this many series anyway")
    args = parser.parse_args(argv)
    cover = tuple(int(x) for x in args.cover.split("/")) if args.cover else None
    tally = run(args.flavor, args.kills, args.seed, args.workdir, max_series=args.max_series,
                entries=tuple(args.entry or ("send",)), recover_first=not args.no_recover,
                cover=cover)  # type: ignore[arg-type]
    print(json.dumps(asdict(tally)))


if __name__ == "__main__":
    sys.setrecursionlimit(10_000)
    main()
