"""Agents whose actions take a while, so tests can send a second message or crash mid-turn."""

from __future__ import annotations

import time

from pydantic import BaseModel, Field

from stateline.graphs import Agent
from stateline.nodes import ActContext


class Nap(BaseModel):
    seconds: float = Field(gt=0, le=10, description="how long to nap")


def nap(q: Nap) -> str:
    time.sleep(q.seconds)
    return f"Napped {q.seconds:g}s."


def send(q: Nap, ctx: ActContext) -> str:
    """A side effect through the ledger that takes ``seconds``: a crash inside it leaves it in doubt."""
    ctx.effect("send", time.sleep, q.seconds)
    return "Sent."


agent = Agent(name="napper", description="Naps for a while", intents=["nap"], schema=Nap, act=nap, keywords=["nap"])
sender = Agent(name="sender", description="Sends slowly", intents=["send"], schema=Nap, act=send, keywords=["send"])
