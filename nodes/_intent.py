"""What a short message means for the conversation itself, the same on every provider.

Deterministic on purpose: "cancel" must clear a draft, and "yes" must confirm one, whether
a model is configured or not; and the offline extractor must not take a question, a cancel
or a new request for the answer to a free-text field.
"""

from __future__ import annotations

import re

_CANCEL = re.compile(
    r"^\s*(?:oh\s+|ok(?:ay)?[,\s]+|actually[,\s]+|no[,\s]+|please[,\s]+)*"
    r"(?:cancel(?:\s+(?:it|that|this|everything|the\s+\w+))?|start\s+over|never\s*mind|forget\s+(?:it|that|about\s+it)"
    r"|scrap\s+(?:it|that)|abort|stop|reset|quit)"
    r"(?:\s+please)?[\s.!]*$",
    re.IGNORECASE,
)
_YES = re.compile(
    r"^\s*(?:yes|yeah|yep|yup|sure|ok(?:ay)?|confirm(?:ed)?|correct|right|go\s+ahead|do\s+it|please\s+do"
    r"|sounds\s+good|looks\s+good|that'?s\s+(?:right|correct)|y)(?:[\s,]+(?:please|thanks|go\s+ahead|do\s+it|"
    r"that'?s\s+right|publish\s+it|looks\s+good))*[\s.!]*$",
    re.IGNORECASE,
)
_NO = re.compile(r"^\s*(?:no|nope|nah|not\s+yet|wait|hold\s+on|n)[\s.!,]*$", re.IGNORECASE)
_QUESTION_START = re.compile(
    r"^\s*(?:(?:what|what's|whats|how|why|when|where|who|which|tell\s+me|any\s+idea)\b"
    r"|(?:can|could|would|will|is|are|do|does|did|should|shall|may|have|has)\s+"
    r"(?:i|you|we|it|this|that|there|the|my|your|a|an|they|he|she)\b)",
    re.IGNORECASE,
)
_REQUEST_START = re.compile(
    r"^\s*(?:i\s+(?:want|need|would\s+like|'d\s+like|wanna)|i'd\s+like|let'?s|please\s+(?:help|show|tell|find|give)"
    r"|help\s+me|show\s+me|give\s+me|switch\s+to|go\s+back\s+to|back\s+to)\b",
    re.IGNORECASE,
)


def is_cancel(text: str) -> bool:
    """``cancel``, ``start over``, ``never mind``, ``forget it`` … as the whole message."""
    return bool(_CANCEL.match(text or ""))


def is_yes(text: str) -> bool:
    """A plain confirmation: ``yes``, ``ok``, ``go ahead``, ``yes please`` …"""
    return bool(_YES.match(text or ""))


def is_no(text: str) -> bool:
    """A plain refusal to confirm (``no``, ``not yet``, ``wait``) that is not a cancel."""
    return bool(_NO.match(text or ""))


def reads_as_question(text: str) -> bool:
    """The message asks something instead of answering: ends in '?' or opens like a question."""
    text = (text or "").strip()
    return text.endswith("?") or bool(_QUESTION_START.match(text))


def reads_as_request(text: str) -> bool:
    """The message asks for something new (``I want …``, ``let's …``, ``back to …``)."""
    return bool(_REQUEST_START.match(text or ""))


def not_an_answer(text: str) -> bool:
    """A message that must never become the value of a free-text field."""
    return is_cancel(text) or is_yes(text) or is_no(text) or reads_as_question(text) or reads_as_request(text)
