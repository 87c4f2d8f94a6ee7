"""The peer benchmark's conversation: an order form of 3 fields collected over 3 turns, then acted on.

Every system runs the same user messages (``message(i)``). The peers answer with
``reply()``, a deterministic stand-in for a model: it reads the fields stated in the
newest message, merges them into the draft and either asks for what is missing or
places the order. stateline runs its own agent machinery (``ORDER_AGENT`` below) on the
same messages: the offline extractor finds the same fields and ``act`` runs once per
completed form through the effect ledger, as a user's agent would.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field

FIELDS = ("item", "quantity", "size")
_ITEMS = ("teapot", "kettle", "mug", "whisk", "ladle", "skillet", "grater")


def message(i: int) -> str:
    """The user's ``i``-th message (0-based): a new order every 3 turns, one field per turn."""
    order, step = divmod(i, 3)
    if step == 0:
        return f"I would like to order something: item {_ITEMS[order % len(_ITEMS)]}"
    if step == 1:
        return f"quantity {order % 5 + 1}"
    return ("size small", "size medium", "size large")[order % 3]


_FIELD = re.compile(r"\b(item|quantity|size)\s+([a-z0-9]+)", re.IGNORECASE)


def parse(text: str) -> dict[str, Any]:
    """The fields ``text`` states (``label value``)."""
    found: dict[str, Any] = {}
    for name, value in _FIELD.findall(text):
        found[name.lower()] = int(value) if name.lower() == "quantity" and value.isdigit() else value
    return found


def reply(draft: dict[str, Any], text: str) -> tuple[dict[str, Any], str, bool]:
    """(new draft, reply, whether the order was placed): the peers' deterministic "model"."""
    draft = {**draft, **parse(text)}
    missing = [f for f in FIELDS if f not in draft]
    if missing:
        return draft, f"To place an order, I still need: {', '.join(missing)}.", False
    return {}, f"Ordered {draft['quantity']} {draft['size']} {draft['item']}.", True


def draft_from_history(user_texts_since_last_order: list[str]) -> dict[str, Any]:
    """The draft a history-reading model rebuilds from the user messages of the open order."""
    draft: dict[str, Any] = {}
    for text in user_texts_since_last_order:
        draft.update(parse(text))
    return draft


def place_order(order: str) -> str:
    """The side effect of ``act`` (the same cheap call on every system)."""
    return f"receipt-{len(order)}"


class Order(BaseModel):
    item: str = Field(description="what to order")
    quantity: int = Field(gt=0, description="how many")
    size: Literal["small", "medium", "large"]


def order_agent() -> Any:
    """stateline's agent for the form: collect -> validate -> act, ``act`` runs one ledger effect."""
    from stateline import Agent

    def place(order: Order, ctx: Any) -> str:
        ctx.effect("place_order", place_order, order.item)
        return f"Ordered {order.quantity} {order.size} {order.item}."

    return Agent(name="orders", description="Place an order", intents=["place_order"], schema=Order,
                 act=place, keywords=["order", "buy"])  # fmt: skip
