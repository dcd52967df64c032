"""``client.graphs``: the link graph around an entity or of a whole project."""

from __future__ import annotations

from typing import Any

from .base import Namespace, seg

__all__ = ["Graphs", "to_networkx"]


def to_networkx(graph: dict[str, Any]):
    """A ``networkx.DiGraph`` from ``{nodes, edges}`` (or ``links``); edges point parent→child."""
    import networkx as nx  # optional dependency, imported on demand

    g = nx.DiGraph()
    for node in graph.get("nodes") or []:
        attrs = {k: v for k, v in node.items() if k != "id"}
        g.add_node(node["id"], **attrs)
    for edge in graph.get("edges") or graph.get("links") or []:
        g.add_edge(edge["source"], edge["target"])
    return g


class Graphs(Namespace):
    def get(self, entity_id: str, recursive: bool = False, as_networkx: bool = False):
        body = self._get(f"entity_graph_cte/{seg(entity_id)}", recursive=True if recursive
                         else None)
        return to_networkx(body) if as_networkx else body

    def project(self, project_id: str, as_networkx: bool = False):
        body = self._get(f"project_graph/{seg(project_id)}")
        return to_networkx(body) if as_networkx else body
