"""The API's error type and its JSON body: ``{"error": {"status", "type", "message"}}``."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from stateline.errors import (
    AgentUnavailableError,
    InvalidInputError,
    InvalidTransitionError,
    StatelineError,
    StorageError,
    ThreadBusyError,
    ThreadStateError,
    UnknownAgentError,
    UnknownRunError,
    UnknownThreadError,
)


class ApiError(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        self.status = status
        self.kind = kind
        self.message = message
        super().__init__(message)


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"status": status, "type": kind, "message": message}}, status_code=status, headers=headers
    )


_STATUS = [
    (UnknownThreadError, 404), (UnknownRunError, 404), (UnknownAgentError, 404),
    (ThreadBusyError, 409), (ThreadStateError, 409), (InvalidTransitionError, 409), (AgentUnavailableError, 409),
    (InvalidInputError, 400), (StorageError, 503), (StatelineError, 400),
]


def status_of(exc: StatelineError) -> int:
    return next(code for cls, code in _STATUS if isinstance(exc, cls))

