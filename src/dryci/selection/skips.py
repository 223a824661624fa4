"""Which skips may be cached: those whose condition the key decides, shown from the test file's source.

A test skipped (or xfailed) by a marker has the same outcome whenever its sources and environment are
the same, exactly like a pass, so a cached skip lets its file be skipped whole. But a condition that
reads something outside the key (an environment variable not in ``hash_env``, a program on PATH, the
network, the clock) must not be cached. So a skip is cacheable only when every ``skip``, ``skipif``
and ``xfail`` mark the test carries is written in its own test file, and every condition is built
from constants and from what the key holds: the platform, the Python version and implementation,
and names bound at module level to such values or by ``import``/``except ImportError`` (installed
distributions are in the key). A name imported from a project module (``from pkg._compat import
WIN``) counts when the caller can show that module's source from the test file's closure (so its
content is in the key) and the name is bound there to such a value. Marks added elsewhere (a
conftest hook, a plugin) are never cacheable: nothing shows what they read.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Union

from dryci.recording.binding import dotted_name

__all__ = ["MARK_NAMES", "StaticMark", "module_skip_is_cacheable", "static_marks"]

MARK_NAMES = frozenset({"skip", "skipif", "xfail"})

_SAFE_VALUES = frozenset(
    {
        "sys.platform",
        "sys.version_info",
        "sys.implementation",
        "sys.implementation.name",
        "sys.maxsize",
        "sys.byteorder",
        "sys.hexversion",
        "os.name",
        "os.sep",
        "True",
        "False",
        "None",
    }
)
_SAFE_CALLS = frozenset(
    {
        "platform.system",
        "platform.machine",
        "platform.python_implementation",
        "platform.python_version",
        "platform.python_version_tuple",
        "importlib.util.find_spec",
        "find_spec",
    }
)
_SAFE_METHODS = frozenset({"startswith", "endswith", "lower", "upper", "split"})


@dataclass(frozen=True)
class StaticMark:
    name: str  # skip, skipif or xfail
    safe: bool  # its condition (if any) is decided by the key


Resolve = Callable[[str], "str | None"]
"""A project module's source by its dotted name, or None when it is not one the key covers."""

_MAX_IMPORT_DEPTH = 3


@dataclass(frozen=True)
class _FromImport:
    """A name bound by ``from MODULE import NAME`` at module level, outside an import guard."""

    module: str
    name: str


_Value = Union[ast.expr, _FromImport]
_Names = Mapping[str, Sequence[_Value]]


class _Conditions:
    def __init__(self, names: _Names, resolve: Resolve | None = None, depth: int = 0) -> None:
        self.names = names
        self._resolve = resolve
        self._depth = depth
        self._resolving: set[str] = set()

    def safe(self, node: _Value | None) -> bool:
        if node is None or isinstance(node, ast.Constant):
            return True
        if isinstance(node, _FromImport):
            return self._imported(node)
        dotted = dotted_name(node)
        if dotted is not None:
            if dotted in _SAFE_VALUES or any(dotted.startswith(v + ".") for v in _SAFE_VALUES):
                return True
            if isinstance(node, ast.Name):
                return self._name(node.id)
            # A distribution's version is in the key.
            return isinstance(node, ast.Attribute) and node.attr == "__version__"
        if isinstance(node, ast.Call):
            args = [*node.args, *(k.value for k in node.keywords)]
            func = dotted_name(node.func)
            if func in _SAFE_CALLS:
                return all(self.safe(a) for a in args)
            if isinstance(node.func, ast.Attribute) and node.func.attr in _SAFE_METHODS:
                return self.safe(node.func.value) and all(self.safe(a) for a in args)
            if func == "tuple" or func == "int":
                return all(self.safe(a) for a in args)
            return False
        if isinstance(node, (ast.Compare, ast.BoolOp, ast.UnaryOp, ast.BinOp, ast.Tuple, ast.List)):
            return all(
                self.safe(child) for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr)
            )
        if isinstance(node, ast.Subscript):
            return self.safe(node.value) and self.safe(node.slice)
        if isinstance(node, ast.Slice):
            return all(self.safe(part) for part in (node.lower, node.upper, node.step))
        if isinstance(node, ast.IfExp):
            return self.safe(node.test) and self.safe(node.body) and self.safe(node.orelse)
        return False

    def _imported(self, node: _FromImport) -> bool:
        if self._resolve is None or self._depth >= _MAX_IMPORT_DEPTH:
            return False
        source = self._resolve(node.module)
        parsed = _parsed(source) if source is not None else None
        if parsed is None:
            return False
        return _Conditions(parsed[1], self._resolve, self._depth + 1)._name(node.name)

    def _name(self, name: str) -> bool:
        values = self.names.get(name)
        if not values or name in self._resolving:
            return False
        self._resolving.add(name)
        try:
            return all(self.safe(value) for value in values)
        finally:
            self._resolving.discard(name)


def _module_names(tree: ast.Module) -> dict[str, list[_Value]]:
    """Names bound at module level to an expression; names imported inside an import guard count as
    constants, others imported from a module as :class:`_FromImport`."""
    names: dict[str, list[_Value]] = {}

    def visit(body: Sequence[ast.stmt], in_import_guard: bool) -> None:
        for stmt in body:
            if (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
            ):
                names.setdefault(stmt.targets[0].id, []).append(stmt.value)
            elif (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and stmt.value is not None
            ):
                names.setdefault(stmt.target.id, []).append(stmt.value)
            elif isinstance(stmt, (ast.Import, ast.ImportFrom)) and in_import_guard:
                for alias in stmt.names:
                    bound = (alias.asname or alias.name).split(".")[0]
                    names.setdefault(bound, []).append(ast.Constant(True))
            elif isinstance(stmt, ast.ImportFrom) and stmt.level == 0 and stmt.module:
                for alias in stmt.names:
                    if alias.name != "*":
                        names.setdefault(alias.asname or alias.name, []).append(
                            _FromImport(stmt.module, alias.name)
                        )
            elif isinstance(stmt, ast.Try):
                guards = all(
                    h.type is not None and dotted_name(h.type) in ("ImportError", "ModuleNotFoundError")
                    for h in stmt.handlers
                )
                visit(stmt.body, guards)
                for handler in stmt.handlers:
                    visit(handler.body, guards)
                visit(stmt.orelse, guards)
            elif isinstance(stmt, (ast.AugAssign, ast.For, ast.While, ast.With, ast.If)):
                # Rebinding in a loop or branch: whatever it binds is not shown simply; poison it.
                for node in ast.walk(stmt):
                    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                        names.setdefault(node.id, []).append(ast.Name("<unknown>", ast.Load()))

    visit(tree.body, False)
    return names


def _marks_in(expr: _Value, names: _Names, depth: int = 0) -> Iterator[ast.Call | str]:
    """The mark calls an expression (a decorator, a ``pytestmark`` value) stands for.

    Yields the ``pytest.mark.NAME(...)`` calls, or the bare name of a mark used without a call
    (``@pytest.mark.skip``).
    """
    if depth > 5:
        yield "<unknown>"
        return
    if isinstance(expr, _FromImport):
        return  # a mark defined elsewhere: not shown, so the marks found will not match pytest's
    if isinstance(expr, (ast.List, ast.Tuple)):
        for element in expr.elts:
            yield from _marks_in(element, names, depth + 1)
        return
    target = expr.func if isinstance(expr, ast.Call) else expr
    dotted = dotted_name(target)
    if dotted is not None and ".mark." in f".{dotted}":
        yield expr if isinstance(expr, ast.Call) else dotted.rsplit(".", 1)[-1]
        return
    if isinstance(expr, ast.Name) and len(names.get(expr.id, ())) == 1:
        yield from _marks_in(names[expr.id][0], names, depth + 1)


def _class(tree: ast.Module, name: str) -> ast.ClassDef | None:
    return next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name), None)


@functools.lru_cache(maxsize=16)
def _parsed(source: str) -> tuple[ast.Module, _Names] | None:
    """The tree and module-level names of a test file, once per file for all its skipped tests (only
    read, never changed)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    return tree, _module_names(tree)


def static_marks(
    source: str, class_names: Sequence[str], function_name: str, resolve: Resolve | None = None
) -> list[StaticMark] | None:
    """The skip/skipif/xfail marks the test file's source gives this test; None if it cannot tell.

    ``class_names``: the classes around the test, outermost first; ``function_name``: the test
    function's own name (without parametrization); ``resolve``: the source of a project module the
    test file imports a name from (see :data:`Resolve`).
    """
    parsed = _parsed(source)
    if parsed is None:
        return None
    tree, names = parsed
    conditions = _Conditions(names, resolve)
    exprs: list[_Value] = [*names.get("pytestmark", [])]
    body: Sequence[ast.stmt] = tree.body
    for class_name in class_names:
        cls = next((n for n in body if isinstance(n, ast.ClassDef) and n.name == class_name), None)
        if cls is None:
            return None
        exprs.extend(cls.decorator_list)
        exprs.extend(
            s.value
            for s in cls.body
            if isinstance(s, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in s.targets)
        )
        body = cls.body
    functions = [
        n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == function_name
    ]
    if len(functions) != 1:
        return None
    exprs.extend(functions[0].decorator_list)
    found = []
    for expr in exprs:
        for mark in _marks_in(expr, names):
            name = mark if isinstance(mark, str) else (dotted_name(mark.func) or "").rsplit(".", 1)[-1]
            if name == "<unknown>":
                return None
            if name not in MARK_NAMES:
                continue
            if isinstance(mark, str):
                found.append(StaticMark(name, True))
                continue
            condition = (
                mark.args[0]
                if mark.args
                else next((k.value for k in mark.keywords if k.arg == "condition"), None)
            )
            if isinstance(condition, ast.Constant) and isinstance(condition.value, str):
                try:
                    condition = ast.parse(condition.value, mode="eval").body
                except SyntaxError:
                    return None
            found.append(StaticMark(name, conditions.safe(condition)))
    return found


def module_skip_is_cacheable(source: str) -> bool:
    """A test module skipped while it was imported by a module-level ``pytest.importorskip`` call."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    for stmt in tree.body:
        value = stmt.value if isinstance(stmt, (ast.Expr, ast.Assign)) else None
        if isinstance(value, ast.Call) and (dotted_name(value.func) or "").endswith("importorskip"):
            return True
    return False
