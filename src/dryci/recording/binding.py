"""What a module-level statement binds, and whether evaluating it can do anything else: pure AST reading.

A statement is *safe* when evaluating it calls nothing (bar a few pure constructors such as
``TypeVar``) and stores into nothing but the names it binds: a constant, an import, a ``def`` with
built-in decorators and call-free defaults, an ``if``/``try`` of such. ``bound_names`` gives the names a
safe statement binds, or None for any other statement (see ``dryci.recording.statements``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

__all__ = ["bound_names", "dotted_name", "pytest_visible"]

_PLAIN_DECORATORS = frozenset(
    {
        "property",
        "staticmethod",
        "classmethod",
        "abstractmethod",
        "abc.abstractmethod",
        "overload",
        "typing.overload",
        "t.overload",
        "cached_property",
        "functools.cached_property",
        "final",
        "typing.final",
        "t.final",
        "override",
        "typing.override",
        "typing_extensions.override",
    }
)
# Calls that build a value from their arguments and touch nothing else.
_PURE_CALLS = frozenset(
    {
        "TypeVar",
        "typing.TypeVar",
        "t.TypeVar",
        "ParamSpec",
        "typing.ParamSpec",
        "t.ParamSpec",
        "NewType",
        "typing.NewType",
        "t.NewType",
        "cast",
        "typing.cast",
        "t.cast",
        "frozenset",
        "set",
        "tuple",
        "list",
        "dict",
        "object",
        "str",
        "int",
        "float",
        "bytes",
        "bool",
        "re.compile",
        "logging.getLogger",
        "getLogger",
        "namedtuple",
        "collections.namedtuple",
        "field",
        "dataclasses.field",
    }
)
# Class decorators that build the class from its own body and touch nothing else.
_CLASS_DECORATORS = frozenset(
    {
        "dataclass",
        "dataclasses.dataclass",
        "total_ordering",
        "functools.total_ordering",
        "final",
        "typing.final",
        "t.final",
        "runtime_checkable",
        "typing.runtime_checkable",
        "t.runtime_checkable",
    }
)
# Module-level dunders nothing looks up implicitly (``__getattr__``, ``__path__`` ... are looked up).
_PLAIN_DUNDERS = frozenset(
    {"__all__", "__doc__", "__version__", "__author__", "__copyright__", "__license__", "__email__"}
)


# Names that read other names by string: code using them may read any changed name.
def dotted_name(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted_name(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _pure(node: ast.AST | None) -> bool:
    if node is None:
        return True
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            if dotted_name(sub.func) not in _PURE_CALLS:
                return False
        elif isinstance(sub, (ast.Lambda, ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)):
            return False
    return True


def _plain_decorators(decorators: list[ast.expr]) -> bool:
    for decorator in decorators:
        name = dotted_name(decorator)
        if name is None or (
            name not in _PLAIN_DECORATORS and not name.endswith((".setter", ".getter", ".deleter"))
        ):
            return False
    return True


def _class_decorators(decorators: list[ast.expr]) -> bool:
    for decorator in decorators:
        call = decorator if isinstance(decorator, ast.Call) else None
        name = dotted_name(call.func if call is not None else decorator)
        if name not in _CLASS_DECORATORS:
            return False
        if call is not None and not all(_pure(a) for a in [*call.args, *(k.value for k in call.keywords)]):
            return False
    return True


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.AST]:
    args = node.args
    parts: list[ast.AST] = [*args.defaults, *(d for d in args.kw_defaults if d is not None)]
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    parts += [a.annotation for a in every if a is not None and a.annotation is not None]
    if node.returns is not None:
        parts.append(node.returns)
    return parts


def _binds(target: ast.expr) -> Iterator[str] | None:
    """The names an assignment target binds; None when it stores into an object."""
    if isinstance(target, ast.Name):
        return iter((target.id,))
    if isinstance(target, ast.Starred):
        return _binds(target.value)
    if isinstance(target, (ast.Tuple, ast.List)):
        names: list[str] = []
        for element in target.elts:
            inner = _binds(element)
            if inner is None:
                return None
            names.extend(inner)
        return iter(names)
    return None


def bound_names(stmt: ast.stmt) -> set[str] | None:
    """Names ``stmt`` binds, or None when it is not safe (calls, stores into objects, loops...)."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        plain = _plain_decorators(stmt.decorator_list) and all(_pure(p) for p in _signature(stmt))
        return {stmt.name} if plain else None
    if isinstance(stmt, ast.ClassDef):
        header = [*stmt.bases, *(k.value for k in stmt.keywords)]
        if not _class_decorators(stmt.decorator_list) or not all(_pure(p) for p in header):
            return None
        out = {stmt.name}
        for member in stmt.body:
            inner = bound_names(member)
            if inner is None:
                return None
            out |= inner
        return out
    if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        names: set[str] = set()
        for target in targets:
            bound = _binds(target)
            if bound is None:
                return None
            names.update(bound)
        annotation = stmt.annotation if isinstance(stmt, ast.AnnAssign) else None
        if not (_pure(stmt.value) and _pure(annotation)):
            return None
        if "__all__" in names and stmt.value is not None:
            # ``from m import *`` elsewhere binds what __all__ lists
            strings = (c.value for c in ast.walk(stmt.value) if isinstance(c, ast.Constant))
            names.update(v for v in strings if isinstance(v, str) and v.isidentifier())
        return names
    if isinstance(stmt, ast.Import):
        return {alias.asname or alias.name.split(".")[0] for alias in stmt.names}
    if isinstance(stmt, ast.ImportFrom):
        return {alias.asname or alias.name for alias in stmt.names if alias.name != "*"}
    if isinstance(stmt, ast.Delete):
        out = set()
        for target in stmt.targets:
            bound = _binds(target)
            if bound is None:
                return None
            out.update(bound)
        return out
    if isinstance(stmt, ast.Expr):
        return set() if isinstance(stmt.value, ast.Constant) else None
    if isinstance(stmt, ast.Pass):
        return set()
    if isinstance(stmt, ast.If):
        return _block_defines([stmt.body, stmt.orelse]) if _pure(stmt.test) else None
    if isinstance(stmt, ast.Try):
        handlers = [h for h in stmt.handlers if _pure(h.type)]
        if len(handlers) != len(stmt.handlers):
            return None
        caught = {h.name for h in handlers if h.name}
        inner = _block_defines([stmt.body, stmt.orelse, stmt.finalbody, *(h.body for h in handlers)])
        return None if inner is None else inner | caught
    return None


def _block_defines(blocks: Iterable[list[ast.stmt]]) -> set[str] | None:
    out: set[str] = set()
    for block in blocks:
        for stmt in block:
            inner = bound_names(stmt)
            if inner is None:
                return None
            out |= inner
    return out


def pytest_visible(names: Iterable[str], *, module: bool) -> bool:
    for name in names:
        if name.startswith("pytest"):
            return True  # hooks, pytestmark, pytest_plugins: pytest finds them by name
        if module and name.startswith("__") and name.endswith("__") and name not in _PLAIN_DUNDERS:
            return True  # __getattr__, __path__ ...: looked up by the interpreter
    return False
