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
    names = sorted(set(edges).union(*edges.values()))
    number = {name: index for index, name in enumerate(names)}
    adjacency = [[number[child] for child in edges.get(name, ())] for name in names]
    components, component_of = _tarjan(adjacency)
    return (
        [sorted(names[node] for node in members) for members in components],
        {names[node]: component_of[node] for node in range(len(names))},
    )


def _tarjan(adjacency: list[list[int]]) -> tuple[list[list[int]], list[int]]:
    size = len(adjacency)
    unvisited = -1
    index = [unvisited] * size
    low = [0] * size
    on_stack = [False] * size
    component_of = [0] * size
    stack: list[int] = []
    components: list[list[int]] = []
    counter = 0
    for root in range(size):
        if index[root] != unvisited:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        work = [(root, 0)]
        while work:
            node, position = work[-1]
            children = adjacency[node]
            if position < len(children):
                work[-1] = (node, position + 1)
                child = children[position]
                if index[child] == unvisited:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack[child] = True
                    work.append((child, 0))
                elif on_stack[child] and index[child] < low[node]:
                    low[node] = index[child]
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                if low[node] < low[parent]:
                    low[parent] = low[node]
            if low[node] == index[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack[member] = False
                    component_of[member] = len(components)
                    members.append(member)
                    if member == node:
                        break
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
