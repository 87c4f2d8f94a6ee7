"""Replies as a stream of chunks: every message an agent adds is also written, piece by
piece, to LangGraph's stream writer, so a client sees the reply grow while the node runs.

The final message still goes into the state as usual; the chunks are a view of it for
``stream_mode="custom"`` consumers (``stateline``'s event stream). Outside a graph run,
or when nobody streams ``custom``, writing is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

CHUNK = "stateline.chunk"
"""The ``kind`` of a custom stream payload carrying one piece of a reply."""


def word_chunks(text: str) -> Iterator[str]:
    """``text`` in word-sized pieces whose concatenation is ``text`` exactly."""
    words = text.split(" ")
    for i, word in enumerate(words):
        yield word if i == len(words) - 1 else word + " "


def _writer() -> Any:
    try:
        from langgraph.config import get_stream_writer

        return get_stream_writer()
    except (RuntimeError, LookupError, KeyError):
        return None


def speak_stream(agent: str, chunks: Iterable[str]) -> str:
    """Write each chunk for ``agent`` to the stream as it arrives; return the whole text."""
    writer = _writer()
    parts: list[str] = []
    for piece in chunks:
        if not piece:
            continue
        parts.append(piece)
        if writer is not None:
            writer({"kind": CHUNK, "agent": agent, "text": piece})
    return "".join(parts)


def speak(agent: str, text: str) -> str:
    """Stream a text the node already has (a template, an action's result) word by word."""
    speak_stream(agent, word_chunks(text))
    return text
