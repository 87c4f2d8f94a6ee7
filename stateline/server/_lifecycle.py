"""What the server shows of agent lifecycles and effects.

Until the ``lifecycle`` package is wired into the app, every registered agent is reported
``active`` and status changes are refused with 501; run timelines come from the server's
own stored steps (``stateline._events``) and list no effects.
"""

from __future__ import annotations

from typing import Any

from stateline._app import App


def agent_rows(session: App) -> list[dict[str, Any]]:
    return [
        {
            "name": a.name, "description": a.description, "intents": list(a.intents),
            "fields": list(a.schema.model_fields), "approval": a.approval, "status": "active",
        }
        for a in session.agents()
    ]


def change_agent_status(session: App, name: str, status: str, reason: str) -> dict[str, Any]:
    from ._app import ApiError

    raise ApiError(501, "NotImplemented", "agent lifecycle is not available in this build")


def run_extras(session: App, run_id: str) -> dict[str, Any]:
    return {"effects": [], "effects_in_doubt": []}
