"""Choose the provider from the environment: offline unless a model is configured."""

from __future__ import annotations

import os
from collections.abc import Mapping

from stateline.errors import ConfigError

from ._offline import OfflineProvider
from ._openai import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_TOKENS,
    DEFAULT_TIMEOUT,
    METHODS,
    OpenAIProvider,
)
from ._provider import ModelProvider


def _number(env: Mapping[str, str], name: str, default: float, *, integer: bool, minimum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        value = None
    if value is None or value < minimum:
        kind = "a whole number" if integer else "a number"
        raise ConfigError(f"{name}={raw!r}: use {kind} >= {minimum:g} (default {default:g})")
    return value


def provider_from_env(env: Mapping[str, str] | None = None) -> ModelProvider:
    """``STATELINE_PROVIDER`` (offline|openai) wins; else OpenAI if a key or base URL is set.

    Reads ``OPENAI_API_KEY``, ``STATELINE_OPENAI_BASE_URL`` (or ``OPENAI_BASE_URL``),
    ``STATELINE_MODEL``, ``STATELINE_STRUCTURED_OUTPUT`` (``auto`` probes),
    ``STATELINE_MODEL_TIMEOUT`` (seconds per request), ``STATELINE_MODEL_MAX_RETRIES`` and
    ``STATELINE_MODEL_MAX_TOKENS`` (per answer).
    """
    env = os.environ if env is None else env
    choice = env.get("STATELINE_PROVIDER", "").strip().lower()
    base_url = env.get("STATELINE_OPENAI_BASE_URL") or env.get("OPENAI_BASE_URL")
    if choice not in ("", "offline", "openai"):
        raise ConfigError(f"STATELINE_PROVIDER={choice!r}: use 'offline' or 'openai'")
    if choice == "offline" or (choice == "" and not (env.get("OPENAI_API_KEY") or base_url)):
        return OfflineProvider()
    method = env.get("STATELINE_STRUCTURED_OUTPUT", "auto").strip() or "auto"
    if method != "auto" and method not in METHODS:
        raise ConfigError(f"STATELINE_STRUCTURED_OUTPUT={method!r}: use auto or one of {', '.join(METHODS)}")
    return OpenAIProvider(
        model=env.get("STATELINE_MODEL", "gpt-4o-mini"),
        base_url=base_url,
        api_key=env.get("OPENAI_API_KEY"),
        method=method,  # type: ignore[arg-type]
        timeout=_number(env, "STATELINE_MODEL_TIMEOUT", DEFAULT_TIMEOUT, integer=False, minimum=0.1),
        max_retries=int(_number(env, "STATELINE_MODEL_MAX_RETRIES", DEFAULT_MAX_RETRIES, integer=True, minimum=0)),
        max_tokens=int(_number(env, "STATELINE_MODEL_MAX_TOKENS", DEFAULT_MAX_TOKENS, integer=True, minimum=1)),
    )
