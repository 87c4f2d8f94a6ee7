"""Reusable node factories, routers and model providers."""

from ._agent_nodes import (
    CANCELLED,
    ask_message,
    confirm_message,
    describe_problems,
    latest_user_text,
    make_act,
    make_collect,
    make_validate,
    migrate_draft,
)
from ._context import USER_NAMESPACE, ActContext, DirectEffects, EffectKey, EffectLedger
from ._extract import extract_fields, field_labels, normalise
from ._grounding import ground
from ._intent import is_cancel, is_no, is_yes, not_an_answer, reads_as_question
from ._offline import OfflineProvider
from ._openai import OpenAIProvider, StructuredMethod
from ._plugin import ACTIVE_KEY, make_plugin_node, run_tool_loop
from ._provider import AgentCard, ModelProvider, RouteDecision
from ._route_nodes import (
    FALLBACK,
    SUPERVISOR,
    Gate,
    capabilities,
    make_fallback,
    make_route,
)
from ._router import keyword_route, score_agent
from ._select import provider_from_env
from ._speak import CHUNK, speak, speak_stream, word_chunks
from ._state import ConversationState, merge_dicts

__all__ = [
    "ACTIVE_KEY",
    "CANCELLED",
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
    "confirm_message",
    "describe_problems",
    "extract_fields",
    "field_labels",
    "ground",
    "is_cancel",
    "is_no",
    "is_yes",
    "keyword_route",
    "latest_user_text",
    "make_act",
    "make_collect",
    "make_fallback",
    "make_plugin_node",
    "make_route",
    "make_validate",
    "merge_dicts",
    "migrate_draft",
    "normalise",
    "not_an_answer",
    "provider_from_env",
    "reads_as_question",
    "run_tool_loop",
    "score_agent",
    "speak",
    "speak_stream",
    "word_chunks",
]
