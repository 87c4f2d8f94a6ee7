"""``stateline serve``: the HTTP API with SSE streams and the conversation viewer page."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping

from ._app import ServerSettings, create_app
from ._auth import AuditLog, Principal, TokenTable, dev_token, load_tokens

__all__ = ["AuditLog", "Principal", "ServerSettings", "TokenTable", "create_app", "load_tokens", "serve"]


def serve(
    session: object,
    *,
    host: str = "127.0.0.1",
    port: int = 8321,
    tokens_file: str | None = None,
    settings: ServerSettings | None = None,
    env: Mapping[str, str] | None = None,
) -> None:
    """Serve ``session`` (an App) with uvicorn until interrupted."""
    import uvicorn

    tokens = load_tokens(tokens_file, os.environ if env is None else env)
    if not len(tokens):
        token = dev_token()
        tokens.add(token, Principal("local", "admin"))
        print(
            f"stateline serve: no API tokens configured (STATELINE_TOKENS / --tokens-file); "
            f"for this run use admin token: {token}",
            file=sys.stderr, flush=True,
        )
    app = create_app(session, tokens, settings)  # type: ignore[arg-type]
    print(f"stateline serve: http://{host}:{port}/ (API docs at /docs)", file=sys.stderr, flush=True)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then raises the signal again with the
    # handler it found: with the default one the process dies there, and the caller's
    # ``App.close`` (which checkpoints the WAL into the .db) never runs. Found it: return.
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=3)
    except _Stopped:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Stopped(Exception):
    """SIGTERM arrived again after uvicorn's graceful shutdown."""


def _stop(signum: int, frame: object) -> None:
    raise _Stopped()
