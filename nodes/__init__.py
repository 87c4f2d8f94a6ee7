"""Reusable node factories, routers and model providers."""

from ._agent_nodes import ask_message, describe_problems, latest_user_text, make_act, make_collect, make_validate
from ._context import USER_NAMESPACE, ActContext, DirectEffects, EffectKey, EffectLedger
from ._extract import extract_fields, field_labels
from ._offline import OfflineProvider
from ._openai import OpenAIProvider, StructuredMethod
from ._provider import AgentCard, ModelProvider, RouteDecision
from ._route_nodes import FALLBACK, SUPERVISOR, Gate, capabilities, make_fallback, make_route
from ._router import keyword_route, score_agent
from ._select import provider_from_env
from ._speak import CHUNK, speak, speak_stream, word_chunks
from ._state import ConversationState, merge_dicts

__all__ = [
    "CHUNK",
    "FALLBACK",
    "SUPERVISOR",
    "USER_NAMESPACE",
    "ActContext",
    "AgentCard",
    "ConversationState",
    "DirectEffects",
    "EffectKey",
    "EffectLedger",
    "Gate",
    "ModelProvider",
    "OfflineProvider",
    "OpenAIProvider",
    "RouteDecision",
    "StructuredMethod",
    "ask_message",
    "capabilities",
    "describe_problems",
    "extract_fields",
    "field_labels",
    "keyword_route",
    "latest_user_text",
    "make_act",
    "make_collect",
    "make_fallback",
    "make_route",
    "make_validate",
    "merge_dicts",
    "provider_from_env",
    "score_agent",
    "speak",
    "speak_stream",
    "word_chunks",
]
