"""Seven storefront conversations judged turn by turn: offline rules, or a real model on llama-server.

    python -m bench.llm_conversations --offline
    python -m bench.llm_conversations --base-url http://127.0.0.1:8080/v1 [--model NAME]
    python -m bench.llm_conversations --server PATH/TO/llama-server --gguf PATH/TO/model.gguf

Each turn is right when the expected agent took it, its reply says what was expected, and
it acted (published, priced) exactly when it should. A conversation is right when all of
its turns are. Every act is also checked against the conversation: a published title and
price must be words and numbers the user typed ("0 acts on values never stated").
Not part of ``make test``: a real model takes minutes and is not always installed.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from stateline.examples.storefront import catalog_rows, create_agents
from stateline.nodes import ModelProvider, OfflineProvider, OpenAIProvider

from stateline import App


@dataclass(frozen=True)
class Step:
    """One user turn and what a right answer looks like."""

    say: str
    """What the user types to a model."""
    agent: str | None
    """The agent that must take it (None: the supervisor's fallback)."""
    contains: tuple[str, ...] = ()
    """Words the reply must contain (case-insensitive)."""
    acts: bool = False
    """Whether this turn must act (publish or price); every other turn must not."""
    offline: str = ""
    """The same turn in the documented offline phrasing ('' = the same text)."""


C = Step
CONVERSATIONS: list[list[Step]] = [
    [  # a listing, step by step, confirmed
        C("I'd like to sell a mug", "listing", ("still need",)),
        C("The title is Red Ceramic Mug and the price is $12.50", "listing", ("category",),
          offline="title Red Ceramic Mug, price $12.50"),
        C("category kitchen", "listing", ("description",)),
        C("description: A hand-glazed red mug that holds 350 ml", "listing", ("confirm", "12.5")),
        C("yes", "listing", ("published", "red ceramic mug"), acts=True),
    ],
    [  # pricing with a percentage
        C("How much should I charge for a candle?", "pricing", ("cost",)),
        C("It costs me 4 dollars", "pricing", ("margin",), offline="cost 4"),
        C("35 percent margin", "pricing", ("confirm", "0.35"), offline="margin 35 percent"),
        C("yes", "pricing", ("$6.15",), acts=True),
    ],
    [  # a price in words is not invented into a number
        C("I want to list something in the shop", "listing", ("still need",)),
        C("I'm thinking twelve fifty each.", "listing", ("price",)),
        C("title Garden Gnome, price 12.50, category garden", "listing", ("description",)),
        C("description: A cheerful gnome for your flower beds", "listing", ("confirm", "garden gnome")),
        C("yes please", "listing", ("published", "12.50"), acts=True),
    ],
    [  # cancel, then something else
        C("sell my old bike", "listing", ("still need",)),
        C("price 80 dollars", "listing", ("still need",), offline="price 80"),
        C("never mind", "listing", ("cancelled",)),
        C("what were total units for toys?", "analytics", ("65",), acts=False, offline="units for toys"),
    ],
    [  # off topic and questions never fill a field
        C("hi there", None, ("listing",)),
        C("what's the weather in Paris?", None, ("listing",)),
        C("I want to sell a lamp", "listing", ("still need",)),
        C("what should the description say?", "listing", ("still need",)),
        C("title Brass Lamp, price 40, category kitchen, description: A brass desk lamp with a warm light",
          "listing", ("confirm", "brass lamp")),
        C("cancel", "listing", ("cancelled",)),
    ],
    [  # switch to analytics and come back
        C("list a product: title Jigsaw Puzzle, price 15", "listing", ("category",)),
        C("wait, what's the best seller in toys?", "analytics", ("puzzle box",), offline="best-seller in toys"),
        C("back to the listing: category toys", "listing", ("description",)),
        C("description: A 1000 piece puzzle of a lighthouse", "listing", ("confirm",)),
        C("yes", "listing", ("published", "jigsaw puzzle"), acts=True),
    ],
    [  # pricing in the middle of a listing
        C("sell a wool scarf, price 25", "listing", ("still need",)),
        C("how much should I charge if it costs 10 and I want a 40% margin?", "pricing", ("confirm",),
          offline="suggest a price: cost 10, margin 40%"),
        C("yes", "pricing", ("$16.67",), acts=True),
        C("back to the listing: title Wool Scarf, category clothing, description: A warm knitted wool scarf",
          "listing", ("confirm", "wool scarf")),
        C("yes", "listing", ("published", "wool scarf"), acts=True),
    ],
]


@dataclass
class Result:
    """Figures for one run over every conversation."""

    conversations: int = 0
    turns: int = 0
    right: int = 0
    conversations_right: int = 0
    unstated_acts: int = 0
    calls: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)


def _app(db: str, provider: ModelProvider) -> App:
    app = App(db=db, provider=provider)
    for agent in create_agents(app.database):
        app.register(dataclasses.replace(agent, confirm=agent.name != "analytics"))
    return app


def _acted(reply: str) -> bool:
    return "published" in reply.lower() or bool(re.search(r"charge \$\d", reply))


def _stated(row: dict, said: str) -> bool:
    words = set(re.findall(r"[a-z0-9]+", said.lower()))
    title_ok = all(w in words for w in re.findall(r"[a-z0-9]+", row["title"].lower()))
    numbers = {float(n) for n in re.findall(r"\d+(?:\.\d+)?", said)}
    return title_ok and row["price"] in numbers


def judge(step: Step, turn_agent: str | None, reply: str) -> str:
    """'' when the turn is right, else what was wrong."""
    low = reply.lower()
    problems = []
    if turn_agent != step.agent:
        problems.append(f"agent {turn_agent} != {step.agent}")
    problems += [f"no {w!r}" for w in step.contains if w.lower() not in low]
    if _acted(reply) != step.acts:
        problems.append("acted" if not step.acts else "did not act")
    return "; ".join(problems)


def run(provider: ModelProvider, *, offline: bool, folder: Path, only: set[int] | None = None) -> Result:
    res = Result()
    for n, steps in enumerate(CONVERSATIONS, 1):
        if only and n not in only:
            continue
        with _app(f"sqlite:///{folder}/c{n}-{'off' if offline else 'llm'}.db", provider) as app:
            all_right, said = True, ""
            for step in steps:
                text = (step.offline or step.say) if offline else step.say
                said += " " + text
                before = getattr(provider, "calls", 0)
                start = time.perf_counter()
                try:
                    turn = app.send(f"c{n}", text)
                    agent, reply = turn.agent, " ".join(m.text for m in turn.replies)
                except Exception as exc:  # noqa: BLE001 - a failed turn is a wrong turn
                    agent, reply = "<failed>", f"{type(exc).__name__}: {exc}"
                res.seconds.append(time.perf_counter() - start)
                res.calls.append(getattr(provider, "calls", 0) - before)
                problem = judge(step, agent, reply)
                res.turns += 1
                res.right += not problem
                all_right &= not problem
                print(f"c{n} {'ok ' if not problem else 'BAD'} {res.seconds[-1]:5.1f}s calls={res.calls[-1]} "
                      f"{text[:50]!r} {problem}", file=sys.stderr, flush=True)
                if problem:
                    res.wrong.append(f"c{n} {text!r}: {problem} -> {reply[:120]!r}")
            res.unstated_acts += sum(not _stated(r, said) for r in catalog_rows(app.database))
            res.conversations_right += all_right
            res.conversations += 1
    return res


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(binary: str, gguf: str) -> tuple[subprocess.Popen, str]:
    """llama-server on 127.0.0.1 with ``gguf``; returns the process and its /v1 URL once healthy."""
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "-m", gguf, "--host", "127.0.0.1", "--port", str(port), "-c", "4096", "-t", "2", "--jinja"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return proc, f"http://127.0.0.1:{port}/v1"
        except OSError:
            time.sleep(1)
    proc.kill()
    raise SystemExit("llama-server did not become healthy in 180 s")


def report(name: str, res: Result) -> str:
    calls = statistics.median(res.calls) if res.calls else 0
    secs = statistics.median(res.seconds) if res.seconds else 0
    lines = [
        f"## {name}",
        f"- turns right: {res.right}/{res.turns} ({res.right / max(res.turns, 1):.0%})",
        f"- conversations right: {res.conversations_right}/{res.conversations}",
        f"- acts on values the user never stated: {res.unstated_acts}",
        f"- model calls per turn: median {calls:g}, mean {statistics.mean(res.calls) if res.calls else 0:.2f}",
        f"- turn time: median {secs:.2f} s",
        "- wrong turns:" if res.wrong else "- wrong turns: none",
        *[f"  - {w}" for w in res.wrong],
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offline", action="store_true")
    parser.add_argument("--natural", action="store_true", help="offline, but with the model phrasing")
    parser.add_argument("--base-url")
    parser.add_argument("--server", help="a llama-server binary to start")
    parser.add_argument("--gguf", help="the model file for --server")
    parser.add_argument("--model", default="local")
    parser.add_argument("--method", default="auto")
    parser.add_argument("--only", default="", help="conversation numbers, e.g. 1,4 (default: all)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.offline:
            name = "offline rules, " + ("model phrasing" if args.natural else "offline phrasing")
            print(report(name, run(OfflineProvider(), offline=not args.natural, folder=Path(tmp))))
            return 0
        proc = None
        url = args.base_url
        if args.server:
            proc, url = start_server(args.server, args.gguf)
        try:
            provider = OpenAIProvider(model=args.model, base_url=url, method=args.method, timeout=120)
            only = {int(x) for x in args.only.split(",") if x.strip()} or None
            result = run(provider, offline=False, folder=Path(tmp), only=only)
            print(report(f"model {args.model} ({args.gguf or url})", result))
            print(f"- structured-output method chosen: {provider._probed}")
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
