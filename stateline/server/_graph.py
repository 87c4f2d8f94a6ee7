"""A picture of the supervisor graph: LangGraph's Mermaid text plus nodes and edges to draw.

The page lays the nodes out itself (static/graph.js, on the vendored dagre); an agent that is
a compiled subgraph is expanded one level (``xray=1``): its nodes carry ``group`` = the agent.
"""

from __future__ import annotations

from typing import Any

from stateline._app import App


def graph_picture(session: App) -> dict[str, Any]:
    """``{"mermaid": str, "nodes": [{id, name, group}], "edges": [{source, target, conditional}]}``.

    ``group`` is the expanded subgraph (agent) a node belongs to, or None for a node of the
    supervisor graph itself; LangGraph names such nodes ``agent:node``.
    """
    drawable = session.graph.get_graph(xray=1)
    nodes = [{"id": n.id, "name": n.name, "group": _group(n.id)} for n in drawable.nodes.values()]
    edges = [{"source": e.source, "target": e.target, "conditional": e.conditional} for e in drawable.edges]
    return {"mermaid": drawable.draw_mermaid(), "nodes": nodes, "edges": edges}


def _group(node_id: str) -> str | None:
    return node_id.split(":", 1)[0] if ":" in node_id else None
