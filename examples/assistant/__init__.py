"""Assistant: a manager delegating to a joke agent and a stock-watchlist agent.

Each user's preferences (joke topics, watchlist, favourite agent, number of
interactions) live in LangGraph's store keyed by user id, so a new conversation
of the same user, even after a restart, starts with them.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from stateline.checkpointing import Database
from stateline.graphs import Agent
from stateline.nodes import ActContext

WORKFLOW = "assistant"
JOKES = {
    "cats": "My cat sat on the keyboard and pushed to production. Best deploy this quarter.",
    "dogs": "My dog ate my unit tests. Coverage has never been higher.",
    "programming": "There are 10 kinds of people: those who read binary and those who don't.",
    "databases": "A SQL query walks into a bar, sees two tables and asks: may I join you?",
    "stocks": "I bought a stock on a tip. It was a tip: the top.",
}


class JokeRequest(BaseModel):
    topic: str = Field(
        min_length=2, description=f"what the joke is about, e.g. {', '.join(JOKES)}",
        json_schema_extra={"synonyms": ["about", "on"]},
    )


class WatchRequest(BaseModel):
    action: Literal["add", "remove", "show"] = Field(description="add, remove or show")
    symbol: str | None = Field(
        default=None, description="a ticker like AAPL", json_schema_extra={"synonyms": ["ticker", "symbol"]}
    )

    @field_validator("symbol", mode="before")
    @classmethod
    def _ticker(cls, value: object) -> object:
        if isinstance(value, str):
            found = re.findall(r"\b[A-Z]{1,5}\b", value)
            return found[0] if found else value.strip().upper()[:5] or None
        return value

    @model_validator(mode="after")
    def _needs_symbol(self) -> WatchRequest:
        if self.action != "show" and not self.symbol:
            raise ValueError(f"a ticker symbol is needed to {self.action}, e.g. 'ticker AAPL'")
        return self


def _note_interaction(ctx: ActContext) -> dict:
    """Count the interaction and the agent used; return the user's updated profile."""
    used = Counter(ctx.recall("agents_used", {}) or {})
    used[ctx.agent] += 1
    ctx.remember("agents_used", dict(used))
    count = int(ctx.recall("interactions", 0) or 0) + 1
    ctx.remember("interactions", count)
    ctx.remember("favourite_agent", used.most_common(1)[0][0])
    return {"interactions": count, "favourite_agent": used.most_common(1)[0][0]}


def tell_joke(req: JokeRequest, ctx: ActContext) -> str:
    topic = req.topic.lower().strip(" .!?")
    topics = list(dict.fromkeys([*(ctx.recall("joke_topics", []) or []), topic]))
    ctx.remember("joke_topics", topics)
    profile = _note_interaction(ctx)
    joke = next((j for t, j in JOKES.items() if t.rstrip("s") in topic), None)
    joke = joke or f"I don't know a joke about {topic} yet, but here is one: {JOKES['programming']}"
    return f"{joke} (topics you like: {', '.join(topics)}; interactions: {profile['interactions']})"


def manage_watchlist(req: WatchRequest, ctx: ActContext) -> str:
    watchlist = list(ctx.recall("watchlist", []) or [])
    if req.action == "add" and req.symbol not in watchlist:
        watchlist.append(req.symbol)
    elif req.action == "remove" and req.symbol in watchlist:
        watchlist.remove(req.symbol)
    ctx.remember("watchlist", watchlist)
    _note_interaction(ctx)
    return f"Your watchlist: {', '.join(watchlist) if watchlist else '(empty)'}."


class Nothing(BaseModel):
    """The profile agent needs no fields."""


def show_profile(_: Nothing, ctx: ActContext) -> str:
    topics = ctx.recall("joke_topics", []) or []
    watchlist = ctx.recall("watchlist", []) or []
    return (
        f"You have talked to me {ctx.recall('interactions', 0)} times; favourite agent: "
        f"{ctx.recall('favourite_agent', 'none yet')}; joke topics: {', '.join(topics) or 'none'}; "
        f"watchlist: {', '.join(watchlist) or 'empty'}."
    )


def create_agents(db: Database) -> list[Agent]:
    return [
        Agent(name="jokes", description="Tell a joke on a topic you choose", intents=["tell_joke"],
              schema=JokeRequest, act=tell_joke, keywords=["joke", "funny", "laugh"]),
        Agent(name="watchlist", description="Keep your stock watchlist: add, remove, show tickers",
              intents=["manage_watchlist"], schema=WatchRequest, act=manage_watchlist,
              keywords=["watchlist", "stock", "stocks", "ticker", "watch"]),
        Agent(name="profile", description="Tell you what I remember about you", intents=["show_profile"],
              schema=Nothing, act=show_profile, keywords=["remember", "about me", "profile", "preferences"]),
    ]
