"""The dependency graph: direct relations, strongly connected components, closures and chains on demand."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Optional

__all__ = ["closure", "shortest_chain", "strongly_connected_components"]


def strongly_connected_components(
    edges: Mapping[str, Sequence[str]],
) -> tuple[list[list[str]], dict[str, int]]:
    """Tarjan's algorithm, iterative (import chains can be deeper than Python's recursion limit).

    Returns the components in reverse topological order (every component after all it depends on)
    and the component index of every node. Nodes are visited in sorted order, so the result is the
    same in every process.
    """
    index_of: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    component_of: dict[str, int] = {}
    counter = 0
    empty: Sequence[str] = ()
    for root in sorted(edges):
        if root in index_of:
            continue
        index_of[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, position = work[-1]
            children = edges.get(node, empty)
            if position < len(children):
                work[-1] = (node, position + 1)
                child = children[position]
                if child not in index_of:
                    index_of[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, 0))
                elif child in on_stack and index_of[child] < low[node]:
                    low[node] = index_of[child]
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                if low[node] < low[parent]:
                    low[parent] = low[node]
            if low[node] == index_of[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component_of[member] = len(components)
                    members.append(member)
                    if member == node:
                        break
                members.sort()
                components.append(members)
    return components, component_of


def closure(edges: Mapping[str, Sequence[str]], start: str) -> frozenset[str]:
    """Every file reachable from ``start``, including itself."""
    seen = {start}
    queue = [start]
    empty: Sequence[str] = ()
    while queue:
        node = queue.pop()
        for child in edges.get(node, empty):
            if child not in seen:
                seen.add(child)
                queue.append(child)
    return frozenset(seen)


def shortest_chain(edges: Mapping[str, Sequence[str]], start: str, goal: str) -> Optional[list[str]]:
    """The shortest dependency chain ``start -> ... -> goal`` (breadth first), or None."""
    if start == goal:
        return [start]
    parent: dict[str, str] = {start: start}
    queue = deque([start])
    empty: Sequence[str] = ()
    while queue:
        node = queue.popleft()
        for child in edges.get(node, empty):
            if child in parent:
                continue
            parent[child] = node
            if child == goal:
                chain = [goal]
                while chain[-1] != start:
                    chain.append(parent[chain[-1]])
                return chain[::-1]
            queue.append(child)
    return None
