"""An agent that carries what it is told through every stored path: memory, effects, errors."""

from __future__ import annotations

from pydantic import BaseModel, Field
from stateline.graphs import Agent
from stateline.nodes import ActContext


class Stash(BaseModel):
    secret: str = Field(description="what to keep")


def _explode(secret: str) -> None:
    raise RuntimeError(f"exploded while keeping {secret}")


def keep(s: Stash, ctx: ActContext) -> str:
    before = ctx.recall("secret")
    ctx.remember("secret", s.secret)
    stored = ctx.effect("store", lambda v: f"stored {v}", s.secret)
    if "boom" in s.secret:
        ctx.effect("explode", _explode, s.secret)
    return f"Kept {s.secret} ({stored}); before: {before}"


agent = Agent(name="vault", description="Keeps a secret", intents=["stash"], schema=Stash, act=keep,
              keywords=["stash", "keep"])
