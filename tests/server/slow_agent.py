"""An agent whose action takes a while, so tests can send a second message mid-turn."""

from __future__ import annotations

import time

from pydantic import BaseModel, Field

from graphs import Agent


class Nap(BaseModel):
    seconds: float = Field(gt=0, le=10, description="how long to nap")


def nap(q: Nap) -> str:
    time.sleep(q.seconds)
    return f"Napped {q.seconds:g}s."


agent = Agent(name="napper", description="Naps for a while", intents=["nap"], schema=Nap, act=nap, keywords=["nap"])
