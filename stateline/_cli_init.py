"""``stateline init NAME``: a two-agent project that runs at once (offline, no PYTHONPATH)."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from stateline.errors import ConfigError

from .cli import app, emit, out

AGENTS = '''"""The agents of {name}: each collects a pydantic model, then acts once it is valid."""

from typing import Literal

from pydantic import BaseModel, Field

from stateline import Agent


class Order(BaseModel):
    item: str = Field(description="what to order")
    quantity: int = Field(gt=0, description="how many")
    size: Literal["small", "medium", "large"]


def place(order: Order, ctx) -> str:
    # a side effect goes through ctx.effect: recorded, so it runs exactly once even across crashes
    ctx.effect("reserve", lambda: f"reserved {{order.quantity}} {{order.item}}")
    return f"Ordered {{order.quantity}} {{order.size}} {{order.item}}."


class Ticket(BaseModel):
    email: str = Field(description="where to answer")
    problem: str = Field(description="what went wrong")


def open_ticket(ticket: Ticket, ctx) -> str:
    number = ctx.effect("open_ticket", lambda: ctx.stable_id("ticket"))
    return f"Ticket {{number[:8]}} opened; we will write to {{ticket.email}}."


orders = Agent(name="orders", description="Place orders", intents=["place_order"],
               schema=Order, act=place, keywords=["order", "buy"])
support = Agent(name="support", description="Open a support ticket", intents=["get_help"],
                schema=Ticket, act=open_ticket, keywords=["help", "broken", "support"])
'''

PROJECT = '''# The stateline project file: `stateline` commands run in this folder (or below) find it.
workflow = "{name}"
agents = ["{module}:orders", "{module}:support"]   # module:attribute; modules are found beside this file
db = "sqlite:///{name}.db"                      # relative to this file; --db or $STATELINE_DB win
approval = []                                   # agents that wait for a person's approval before acting
'''

TEST = '''"""Run with `python -m pytest` in this folder: two agents, offline, on a throwaway database."""

from stateline import App

from {module} import orders, support


def test_an_order_is_collected_then_placed():
    with App([orders, support], db="memory") as app:
        reply = app.send("t1", "I'd like to order: item teapot, quantity 2").reply
        assert reply == "To place orders, I still need: size (one of small, medium, large)."
        assert app.send("t1", "size large").reply == "Ordered 2 large teapot."


def test_support_opens_a_ticket():
    with App([orders, support], db="memory") as app:
        reply = app.send("t2", "help, my teapot is broken. email: ann@example.com, problem: lid cracked").reply
        assert "opened; we will write to ann@example.com" in reply
'''

README = '''# {name}

A [stateline](https://pypi.org/project/stateline/) project: two agents (`orders`, `support`) in
`{module}.py`, named by `stateline.toml`.

```sh
stateline run -t t1 "I'd like to order: item teapot, quantity 2"
# -> To place orders, I still need: size (one of small, medium, large).
stateline run -t t1 "size large"   # -> Ordered 2 large teapot.
stateline threads show t1
python -m pytest                                                    # the tests in test_{module}.py
```

Add an agent: define it in `{module}.py`, add `"{module}:NAME"` to `agents` in `stateline.toml`.
'''


def _module_name(name: str) -> str:
    ident = re.sub(r"\W", "_", name).strip("_").lower() or "project"
    return f"{'p_' if ident[0].isdigit() else ''}{ident}_agents"


@app.command()
def init(
    ctx: typer.Context, name: str = typer.Argument(..., help="folder to create (its name is the workflow's)")
) -> None:
    """Create folder NAME with two agents, stateline.toml, a test and a README: runnable at once."""
    folder = Path(name)
    taken = any(folder.iterdir()) if folder.is_dir() else folder.exists()
    if taken:
        raise ConfigError(f"{str(folder)!r} already exists and is not an empty folder; choose another name")
    workflow = folder.resolve().name
    module = _module_name(workflow)
    files = {
        f"{module}.py": AGENTS.format(name=workflow),
        "stateline.toml": PROJECT.format(name=workflow, module=module),
        f"test_{module}.py": TEST.format(module=module),
        "README.md": README.format(name=workflow, module=module),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for file, text in files.items():
        (folder / file).write_text(text, encoding="utf-8")
    row = {"folder": str(folder), "files": sorted(files)}
    emit(ctx, row, lambda: out.print(
        f"created {folder}/ with {', '.join(sorted(files))}\nnext: cd {folder} && "
        "stateline run -t t1 \"I'd like to order: item teapot, quantity 2\"", highlight=False))
