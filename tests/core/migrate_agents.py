"""Two versions of one agent, for the `agents migrate` CLI test (loaded from TOML files)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from stateline.graphs import Agent


class OrderV1(BaseModel):
    item: str
    qty: str
    colour: str


class OrderV2(BaseModel):
    item: str
    quantity: int = Field(gt=0)


def _migrate(old: dict, version: int) -> dict:
    return {"item": old.get("item"), "quantity": {"two": 2, "three": 3}.get(str(old.get("qty")), old.get("qty"))}


orders_v1 = Agent(name="orders", description="Place orders", intents=["buy"], schema=OrderV1, act=lambda o: "v1",
                  keywords=["order"])
orders_v2 = Agent(name="orders", description="Place orders", intents=["buy"], schema=OrderV2, act=lambda o: "v2",
                  keywords=["order"], version=2, migrate=_migrate)
