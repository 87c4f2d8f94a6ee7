"""Ids and input checks behind small functions that tests can patch."""

from __future__ import annotations

import re
import uuid

from stateline.errors import InvalidInputError

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
MAX_MESSAGE_CHARS = 20_000


def new_id() -> str:
    """A fresh random id (runs, threads created by the server)."""
    return uuid.uuid4().hex


def check_id(kind: str, value: object) -> str:
    """Return ``value`` if it is a usable id, else raise InvalidInputError saying why."""
    if not isinstance(value, str) or not _ID.fullmatch(value):  # fullmatch: 't1\n' is not 't1'
        raise InvalidInputError(
            f"{kind} {value!r} is not valid: use 1-128 letters, digits or . _ : @ -, starting with a letter or digit"
        )
    return value


def check_message(text: object, *, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Return the message stripped, or raise InvalidInputError if empty or too long."""
    if not isinstance(text, str):
        raise InvalidInputError(f"message must be text, got {type(text).__name__}")
    try:
        text.encode("utf-8")  # a lone surrogate (undecodable bytes read with surrogateescape) cannot be stored
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"message is not valid UTF-8 text (undecodable character at position {exc.start}); send it as UTF-8"
        ) from None
    text = text.strip()
    if not text:
        raise InvalidInputError("message is empty; type what you want to say")
    if len(text) > limit:
        raise InvalidInputError(f"message has {len(text)} characters; the limit is {limit}")
    return text
