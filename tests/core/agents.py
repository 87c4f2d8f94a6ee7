"""Small agents the core tests share."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from stateline.graphs import Agent


class Order(BaseModel):
    item: str = Field(min_length=2, description="what to order")
    quantity: int = Field(gt=0, description="how many")
    size: Literal["small", "medium", "large"]


class Refund(BaseModel):
    order_id: str = Field(description="the order number")
    reason: str


def make_agents(calls: list | None = None) -> list[Agent]:
    calls = [] if calls is None else calls

    def place(order: Order) -> str:
        calls.append(order)
        return f"Ordered {order.quantity} {order.size} {order.item}."

    def refund(req: Refund, ctx) -> str:
        calls.append(req)
        return f"Refund for {req.order_id} filed (thread {ctx.thread_id})."

    return [
        Agent(name="orders", description="Place orders", intents=["place_order", "buy"], schema=Order, act=place,
              keywords=["order", "buy"]),
        Agent(name="refunds", description="File refunds", intents=["refund"], schema=Refund, act=refund,
              keywords=["refund", "money back"]),
    ]
