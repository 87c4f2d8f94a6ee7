"""The offline extractor and keyword router: deterministic rules, checked one by one."""

from __future__ import annotations

from enum import Enum
from typing import Literal, Optional

import pytest
from pydantic import BaseModel, Field

from stateline.nodes import AgentCard, extract_fields, keyword_route


class Color(Enum):
    RED = "red"
    NAVY_BLUE = "navy blue"


class Item(BaseModel):
    title: str
    price: float = Field(gt=0)
    stock: int
    color: Color
    size: Literal["small", "large"]
    tags: list[str] = []
    gift_wrap: Optional[bool] = None
    note: str = Field(default="", json_schema_extra={"synonyms": ["remark"]})


@pytest.mark.parametrize(
    ("message", "draft", "asked", "expected"),
    [
        ("title: Desk Lamp, price $19.90, stock 4", {}, [], {"title": "Desk Lamp", "price": 19.9, "stock": 4}),
        ("price is 7,50", {}, [], {"price": 7.5}),
        ("make it navy blue and large", {}, [], {"color": "navy blue", "size": "large"}),
        ("large", {}, ["size"], {"size": "large"}),
        ("Brass Lamp", {}, ["title"], {"title": "Brass Lamp"}),
        ("42", {"title": "x", "price": 1.0}, ["stock", "color"], {"stock": 42}),
        ("tags: desk, office and light", {}, [], {"tags": ["desk", "office", "light"]}),
        ("gift wrap yes", {}, [], {"gift_wrap": True}),
        ("remark: fragile, handle with care", {}, [], {"note": "fragile, handle with care"}),
        ("what price should it have?", {}, [], {}),
        ("small or large?", {}, [], {}),  # two choices named: ambiguous, not filled
    ],
)
def test_extraction_rules(message, draft, asked, expected):
    assert extract_fields(Item, message, draft=draft, asked=asked) == expected


CARDS = [
    AgentCard("listing", "Create listings", ("create_listing",), ("sell",), ("title", "price")),
    AgentCard("pricing", "Suggest prices", ("suggest_price",), ("margin",), ("cost", "margin")),
]


@pytest.mark.parametrize(
    ("message", "active", "expected"),
    [
        ("I want to sell my bike", None, "listing"),
        ("what margin should I use", None, "pricing"),
        ("price 12", "listing", "listing"),  # a field answer stays with the collecting agent
        ("hmm, 12 maybe", "pricing", "pricing"),  # nothing signalled: stickiness
        ("suggest a price from cost 3 and margin 30%", "listing", "pricing"),  # clearly another agent
        ("back to the listing", "pricing", "listing"),  # named
        ("what's the weather", None, None),
    ],
)
def test_keyword_routing_and_stickiness(message, active, expected):
    assert keyword_route(message, CARDS, active=active).agent == expected
