"""Choose the provider from the environment: offline unless a model is configured."""

from __future__ import annotations

import os
from collections.abc import Mapping

from stateline.errors import ConfigError

from ._offline import OfflineProvider
from ._openai import METHODS, OpenAIProvider
from ._provider import ModelProvider


def provider_from_env(env: Mapping[str, str] | None = None) -> ModelProvider:
    """``STATELINE_PROVIDER`` (offline|openai) wins; else OpenAI if a key or base URL is set.

    Reads ``OPENAI_API_KEY``, ``STATELINE_OPENAI_BASE_URL`` (or ``OPENAI_BASE_URL``),
    ``STATELINE_MODEL`` and ``STATELINE_STRUCTURED_OUTPUT``.
    """
    env = os.environ if env is None else env
    choice = env.get("STATELINE_PROVIDER", "").strip().lower()
    base_url = env.get("STATELINE_OPENAI_BASE_URL") or env.get("OPENAI_BASE_URL")
    if choice not in ("", "offline", "openai"):
        raise ConfigError(f"STATELINE_PROVIDER={choice!r}: use 'offline' or 'openai'")
    if choice == "offline" or (choice == "" and not (env.get("OPENAI_API_KEY") or base_url)):
        return OfflineProvider()
    method = env.get("STATELINE_STRUCTURED_OUTPUT", "json_schema")
    if method not in METHODS:
        raise ConfigError(f"STATELINE_STRUCTURED_OUTPUT={method!r}: use one of {', '.join(METHODS)}")
    return OpenAIProvider(
        model=env.get("STATELINE_MODEL", "gpt-4o-mini"),
        base_url=base_url,
        api_key=env.get("OPENAI_API_KEY"),
        method=method,  # type: ignore[arg-type]
    )
