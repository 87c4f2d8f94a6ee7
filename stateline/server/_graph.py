"""A picture of the supervisor graph: LangGraph's Mermaid text plus nodes and edges to draw."""

from __future__ import annotations

from typing import Any

from stateline._app import App


def graph_picture(session: App) -> dict[str, Any]:
    drawable = session.graph.get_graph(xray=1)
    nodes = [{"id": n.id, "name": n.name} for n in drawable.nodes.values()]
    edges = [{"source": e.source, "target": e.target, "conditional": e.conditional} for e in drawable.edges]
    return {"mermaid": drawable.draw_mermaid(), "nodes": nodes, "edges": edges}
