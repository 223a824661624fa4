"""Data paths a Python file builds from its own location (AST): ``Path(__file__).parent / "data"``,
``os.path.join(os.path.dirname(__file__), "data", "x.json")``, also through variables (``HERE / "x"``).

``dryci init`` writes a ``visit`` rule for each, so editing the data re-runs the tests that read it.
"""

from __future__ import annotations

import ast
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

__all__ = ["data_accesses"]


def data_accesses(rel: str, source: str) -> list[tuple[str, bool]]:
    """Paths a Python file builds from its own location: ``Path(__file__).parent / "data" / "x.json"``,
    ``os.path.join(os.path.dirname(__file__), "data")``, also through a variable (``HERE / "x"``).

    Returns (path relative to the tree's root, open_tail); ``open_tail`` is True when a part after the
    path is not a literal string (the access is somewhere below it). Paths leaving the tree are dropped.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    evaluator = _LocationEvaluator(rel)
    for _ in range(3):  # variables defined through other variables: a few passes reach a fixed point
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
                continue
            target = node.targets[0]
            location = evaluator.evaluate(node.value, set()) if isinstance(target, ast.Name) else None
            if location is not None and isinstance(target, ast.Name):
                evaluator.names[target.id] = location
    found: list[tuple[str, bool]] = []
    consumed: set[int] = set()
    for node in ast.walk(tree):  # breadth first: an outer expression is seen before its parts
        if id(node) in consumed or not isinstance(node, ast.expr) or not _is_join(node):
            continue
        location = evaluator.evaluate(node, consumed)
        if location is None or location.kind != "dir" or not location.joined:
            continue
        if location.path.startswith("../") or location.path == "..":
            continue
        item = (location.path, location.open_tail)
        if item not in found:
            found.append(item)
    return found


@dataclass(frozen=True)
class _Location:
    kind: str  # "file" (this file) or "dir"
    path: str
    joined: bool = False
    open_tail: bool = False


_PATH_TYPES = frozenset({"Path", "PurePath", "PosixPath", "WindowsPath"})
_SAME_PATH_METHODS = frozenset({"resolve", "absolute", "expanduser"})
_SAME_PATH_FUNCS = frozenset({"abspath", "realpath", "normpath"})


def _is_join(node: ast.AST) -> bool:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return True
    return isinstance(node, ast.Call) and _call_name(node.func) in ("join", "joinpath")


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


class _LocationEvaluator:
    """Evaluates the small language of path expressions anchored at ``__file__``."""

    def __init__(self, rel: str) -> None:
        self.rel = rel
        self.names: dict[str, _Location] = {}

    def evaluate(self, node: ast.expr, consumed: set[int]) -> Optional[_Location]:
        consumed.add(id(node))
        if isinstance(node, ast.Name):
            if node.id == "__file__":
                return _Location("file", self.rel)
            return self.names.get(node.id)
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            return _parent(self.evaluate(node.value, consumed), 1)
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute):
            if node.value.attr == "parents":
                index = node.slice  # Python >= 3.9: the index expression itself
                if isinstance(index, ast.Constant) and isinstance(index.value, int):
                    return _parent(self.evaluate(node.value.value, consumed), index.value + 1)
            return None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return self._join(self.evaluate(node.left, consumed), [node.right])
        if isinstance(node, ast.Call):
            return self._call(node, consumed)
        return None

    def _call(self, node: ast.Call, consumed: set[int]) -> Optional[_Location]:
        name = _call_name(node.func)
        args = node.args
        if name in _PATH_TYPES and len(args) == 1:
            return self.evaluate(args[0], consumed)
        if name == "dirname" and len(args) == 1:
            return _parent(self.evaluate(args[0], consumed), 1)
        if name in _SAME_PATH_FUNCS and len(args) == 1:
            return self.evaluate(args[0], consumed)
        if isinstance(node.func, ast.Attribute):
            if name in _SAME_PATH_METHODS and not args:
                return self.evaluate(node.func.value, consumed)
            if name == "joinpath":
                return self._join(self.evaluate(node.func.value, consumed), args)
        if name == "join" and args:
            return self._join(self.evaluate(args[0], consumed), args[1:])
        return None

    def _join(self, base: Optional[_Location], parts: Sequence[ast.expr]) -> Optional[_Location]:
        if base is None or base.kind != "dir":
            return None
        if base.open_tail:
            return base
        path = base.path
        for part in parts:
            if not (isinstance(part, ast.Constant) and isinstance(part.value, str)):
                return _Location("dir", path, joined=True, open_tail=True)
            path = posixpath.normpath(posixpath.join(path, part.value))
        return _Location("dir", path, joined=True)


def _parent(location: Optional[_Location], levels: int) -> Optional[_Location]:
    if location is None or location.joined:
        return None  # a data path's parent is rare; staying silent beats guessing
    # For this file, the first level removes the file name; for a folder, its last part.
    return _Location("dir", posixpath.normpath(posixpath.join(location.path, *[".."] * levels)))
