"""Storefront: list products, suggest prices, answer sales questions.

Three agents behind one supervisor. ``listing`` publishes into a real ``catalog``
table through the effect ledger, so a crash never publishes a listing twice.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from stateline.checkpointing import Database, now
from stateline.graphs import Agent
from stateline.nodes import ActContext

WORKFLOW = "storefront"
CATEGORIES = ("kitchen", "garden", "toys", "books", "clothing")
Category = Literal["kitchen", "garden", "toys", "books", "clothing"]

TABLES = [
    (
        1,
        """
        CREATE TABLE IF NOT EXISTS catalog (
            listing_id TEXT PRIMARY KEY, thread_id TEXT, title TEXT NOT NULL, price REAL NOT NULL,
            category TEXT NOT NULL, description TEXT NOT NULL, published_at REAL NOT NULL);
        CREATE TABLE IF NOT EXISTS sales (
            sale_id INTEGER PRIMARY KEY, title TEXT NOT NULL, category TEXT NOT NULL,
            units INTEGER NOT NULL, revenue REAL NOT NULL)
        """,
    )
]
SEED_SALES = [
    (1, "Chef knife", "kitchen", 42, 1260.0),
    (2, "Garden hose", "garden", 18, 540.0),
    (3, "Puzzle box", "toys", 65, 975.0),
    (4, "Cookbook", "books", 30, 600.0),
    (5, "Rain jacket", "clothing", 12, 960.0),
    (6, "Cast-iron pan", "kitchen", 25, 1125.0),
]


class Listing(BaseModel):
    """A product listing."""

    title: str = Field(min_length=2, description="the product's name")
    price: float = Field(gt=0, description="in dollars, greater than 0")
    category: Category = Field(description=f"one of {', '.join(CATEGORIES)}")
    description: str = Field(min_length=5, description="a sentence about the product")


class PriceQuestion(BaseModel):
    """What the pricing agent needs."""

    cost: float = Field(gt=0, description="what one unit costs you, in dollars")
    margin: float = Field(gt=0, lt=1, description="target margin, e.g. 40% or 0.4")


class SalesQuestion(BaseModel):
    """What the analytics agent answers."""

    metric: Literal["revenue", "units", "best-seller"] = Field(description="revenue, units or best-seller")
    category: Literal["kitchen", "garden", "toys", "books", "clothing", "all"] = "all"


def setup_tables(db: Database) -> None:
    """Create the example's tables and seed the sales data (idempotent)."""
    db.migrate("example_storefront", TABLES)
    db.seal_columns("catalog", "title", "description")  # what sellers typed: sealed when a key is set
    if db.query_one("SELECT COUNT(*) AS n FROM sales")["n"] == 0:  # type: ignore[index]  # COUNT: one row
        with db.transaction() as conn:
            for row in SEED_SALES:
                conn.execute("INSERT INTO sales VALUES (?, ?, ?, ?, ?)", row)


def create_agents(db: Database) -> list[Agent]:
    """The storefront's agents, bound to ``db`` for their tables."""
    setup_tables(db)

    def insert_listing(listing_id: str, thread_id: str, item: Listing) -> str:
        db.execute(
            "INSERT INTO catalog VALUES (?, ?, ?, ?, ?, ?, ?)",
            (listing_id, thread_id, db.encrypt(item.title), item.price, item.category, db.encrypt(item.description),
             now()),
        )
        return listing_id

    def publish(item: Listing, ctx: ActContext) -> str:
        listing_id = ctx.effect("publish", insert_listing, ctx.stable_id("listing"), ctx.thread_id, item)
        return f"Published {item.title!r} in {item.category} at ${item.price:.2f} (listing {listing_id})."

    def suggest(q: PriceQuestion) -> str:
        price = q.cost / (1 - q.margin)
        return f"At cost ${q.cost:.2f} and a {q.margin:.0%} margin, charge ${price:.2f}."

    def answer(q: SalesQuestion) -> str:
        where, params = ("", ()) if q.category == "all" else (" WHERE category = ?", (q.category,))
        scope = "all categories" if q.category == "all" else q.category
        if q.metric == "best-seller":
            row = db.query_one(f"SELECT title, units FROM sales{where} ORDER BY units DESC LIMIT 1", params)
            return f"Best seller in {scope}: {row['title']} ({row['units']} units)." if row else "No sales yet."
        row = db.query_one(f"SELECT COALESCE(SUM({q.metric}), 0) AS total FROM sales{where}", params)
        total = f"${row['total']:.2f}" if q.metric == "revenue" else f"{row['total']} units"  # type: ignore[index]  # SUM: one row
        return f"Total {q.metric} for {scope}: {total}."

    return [
        Agent(
            name="listing", description="Create and publish product listings", intents=["create_listing", "sell"],
            schema=Listing, act=publish, keywords=["list", "listing", "publish", "product"],
        ),
        Agent(
            name="pricing", description="Suggest a price from unit cost and target margin",
            intents=["suggest_price"], schema=PriceQuestion, act=suggest,
            keywords=["what price", "how much should", "suggest", "margin", "pricing"],
        ),
        Agent(
            name="analytics", description="Answer questions about sales: revenue, units, best sellers",
            intents=["sales_question"], schema=SalesQuestion, act=answer,
            keywords=["sales", "revenue", "units", "best-seller", "best seller", "sold", "analytics"],
        ),
    ]


def catalog_rows(db: Database) -> list[dict]:
    """Everything published, oldest first."""
    rows = db.query("SELECT * FROM catalog ORDER BY published_at, listing_id")
    return [{**dict(r), "title": db.decrypt(r["title"]), "description": db.decrypt(r["description"])} for r in rows]
