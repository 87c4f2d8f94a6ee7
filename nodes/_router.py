"""The offline keyword router: scores each agent by the words of a message.

An agent scores for its name (strongly: "back to the listing"), its intent words,
its keywords and its field labels. The agent still collecting keeps the message
unless another agent scores strictly higher: that is "stickiness", so an answer
like "price 12" stays with the listing agent even though "price" also signals
the pricing agent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ._provider import AgentCard, RouteDecision

NAME_WEIGHT = 3.0
KEYWORD_WEIGHT = 1.0
FIELD_WEIGHT = 0.75
STICKY_BONUS = 0.5


def _words(text: str) -> set[str]:
    words = set(re.findall(r"[a-z0-9_]+", text.lower()))
    return words | {w[:-1] for w in words if len(w) > 3 and w.endswith("s")}


def _phrase_hit(phrase: str, text: str, words: set[str]) -> bool:
    phrase = phrase.lower().strip()
    if "_" in phrase:
        return phrase in words or _phrase_hit(phrase.replace("_", " "), text, words)
    if " " in phrase or "-" in phrase:  # "best-seller" is no single word of the message
        return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text) is not None
    return phrase in words


def score_agent(card: AgentCard, message: str) -> float:
    """How strongly ``message`` signals ``card``'s agent (0 means not at all)."""
    text = message.lower()
    words = _words(message)
    score = NAME_WEIGHT if _phrase_hit(card.name, text, words) else 0.0
    signals = set(card.keywords)
    for intent in card.intents:
        signals.update(p for p in intent.split("_") if len(p) > 2)
    score += KEYWORD_WEIGHT * sum(1 for s in signals if _phrase_hit(s, text, words))
    score += FIELD_WEIGHT * sum(1 for f in card.fields if _phrase_hit(f, text, words))
    return score


def keyword_route(message: str, agents: Sequence[AgentCard], *, active: str | None) -> RouteDecision:
    """Pick the best-scoring agent; the active one wins ties and unsignalled messages."""
    scores = {card.name: score_agent(card, message) for card in agents}
    if active in scores:
        scores[active] += STICKY_BONUS
    best = max(scores, key=lambda n: scores[n], default=None)
    if active in scores and (best is None or scores[best] <= scores[active]):
        return RouteDecision(active, f"{active} is still collecting", scores)
    if best is None or scores[best] <= 0:
        return RouteDecision(None, "no agent matched the message", scores)
    return RouteDecision(best, f"matched {best} (score {scores[best]:.2f})", scores)
