"""The units of a Python file: every function or method body, and the module-level code.

A function's *body* is one unit (nested functions and classes inside it belong to it: they only exist
once the body runs). Everything else is the module-level unit: class bodies, decorators, default
arguments, signatures, annotations and globals. A change there re-runs every test that imported the
module, since its effect does not depend on which functions a test called.

Fingerprints come from the AST without positions, so moving code or editing comments changes nothing,
while any change of what runs does. A function's docstring counts as module-level: it is read
without calling the function.
"""

from __future__ import annotations

import ast
import bisect
import functools
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Union

from dryci.exceptions import AnalysisError
from dryci.recording.statements import Statement, code_names, module_statements

__all__ = ["MODULE", "FunctionUnit", "ModuleUnits", "parse_units"]

MODULE = "<module>"
"""The qualname standing for a file's module-level unit."""

_Function = Union[ast.FunctionDef, ast.AsyncFunctionDef]
# Statements whose bodies still run at module (or class) level when the module is imported.
_BLOCKS = ("body", "orelse", "finalbody", "handlers")


@dataclass(frozen=True)
class FunctionUnit:
    """One outermost function or method: its qualified name, body fingerprint and line span."""

    qualname: str
    fingerprint: str
    first_line: int  # the first decorator's line: where the function's code object starts
    last_line: int
    names: frozenset[str] = frozenset()  # bare names its body refers to (``statements.code_names``)
    dynamic: bool = False  # it reads names by string (getattr with a variable, vars(), __dict__ ...)
    attrs: frozenset[str] = frozenset()  # attribute-like names its body refers to


@dataclass(frozen=True)
class ModuleUnits:
    """All units of one file; ``functions`` never overlap and are sorted by line."""

    module_fingerprint: str
    functions: tuple[FunctionUnit, ...]
    # Importing it computes nothing: only a docstring, ``pass`` and plain imports at module level
    # (an empty ``__init__.py``). Its globals can hold no result of project code.
    inert: bool = False
    statements: tuple[Statement, ...] = ()  # the module-level code, statement by statement

    def unit_at(self, line: int) -> str:
        """The qualname of the function whose code starts at ``line``, or :data:`MODULE`."""
        starts = [f.first_line for f in self.functions]
        index = bisect.bisect_right(starts, line) - 1
        if index >= 0 and self.functions[index].last_line >= line:
            return self.functions[index].qualname
        return MODULE

    def fingerprints(self) -> Mapping[str, str]:
        """qualname -> body fingerprint (one mapping per file, made on first use)."""
        return self._fingerprints

    @functools.cached_property
    def _fingerprints(self) -> Mapping[str, str]:
        return MappingProxyType({f.qualname: f.fingerprint for f in self.functions})


def _digest(node: ast.AST | list[ast.stmt]) -> str:
    if isinstance(node, list):
        text = "\n".join(ast.dump(stmt, include_attributes=False) for stmt in node)
    else:
        text = ast.dump(node, include_attributes=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _functions(body: list[ast.stmt], prefix: str) -> Iterator[tuple[str, _Function]]:
    """Outermost functions defined at this level, also inside if/try/with/for blocks and classes."""
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + stmt.name, stmt
        elif isinstance(stmt, ast.ClassDef):
            yield from _functions(stmt.body, f"{prefix}{stmt.name}.")
        else:
            for block in _BLOCKS:
                inner = getattr(stmt, block, None)
                if isinstance(inner, list):
                    inner_stmts = [s for s in inner if isinstance(s, ast.stmt)]
                    # except handlers are not statements, but hold statement bodies
                    inner_stmts += [s for h in inner if isinstance(h, ast.ExceptHandler) for s in h.body]
                    yield from _functions(inner_stmts, prefix)


def _docstring(node: _Function) -> bool:
    first = node.body[0] if node.body else None
    return (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )


def parse_units(source: str | bytes, filename: str) -> ModuleUnits:
    """Split ``source`` into units; :class:`AnalysisError` naming ``filename`` if it does not parse.

    Remembered per process: the recorder and the manifest both need the units of the same files.
    """
    return _parse_units(source, filename)


@functools.lru_cache(maxsize=4096)
def _parse_units(source: str | bytes, filename: str) -> ModuleUnits:
    try:
        tree = ast.parse(source, filename=filename)
    except (SyntaxError, ValueError) as exc:  # ValueError: null bytes
        raise AnalysisError(f"cannot parse: {exc}", file=filename) from exc
    inert = all(_inert(stmt) for stmt in tree.body)
    text = source.decode("utf-8", "surrogateescape") if isinstance(source, bytes) else source
    lines = text.splitlines()
    units: list[FunctionUnit] = []
    seen: dict[str, int] = {}
    outermost = list(_functions(tree.body, ""))
    qualnames: dict[int, str] = {}
    for qualname, node in outermost:
        # The same name defined twice (if/else branches) gets a numbered second unit.
        seen[qualname] = seen.get(qualname, 0) + 1
        if seen[qualname] > 1:
            qualname = f"{qualname}#{seen[qualname]}"
        qualnames[id(node)] = qualname
        first = min([node.lineno] + [d.lineno for d in node.decorator_list])
        last = node.end_lineno if node.end_lineno is not None else node.lineno
        body = node.body[1:] if _docstring(node) else node.body
        names, attrs, dynamic = code_names(_text(lines, body[0].lineno if body else first, last))
        units.append(FunctionUnit(qualname, _digest(body), first, last, names, dynamic, attrs))
    for _, node in outermost:
        # The body leaves the module-level unit (the tree is ours: no copy needed); signature,
        # decorators, defaults and the docstring (``__doc__`` is read without calling the function:
        # help(), doctest collection) stay in it.
        node.body = [*node.body[:1], ast.Pass()] if _docstring(node) else [ast.Pass()]
    units.sort(key=lambda unit: unit.first_line)
    statements = module_statements(tree, qualnames)
    # The statements cover all module-level code (with each function's signature and docstring).
    whole = "\n".join(f"{st.key}\0{st.fingerprint}" for st in statements)
    return ModuleUnits(hashlib.sha256(whole.encode()).hexdigest()[:32], tuple(units), inert, statements)


def _text(lines: list[str], first: int, last: int) -> str:
    return "\n".join(lines[first - 1 : last])


def _inert(stmt: ast.stmt) -> bool:
    # ``import a.b`` runs only a.b's own module code (recorded as a module of its own); ``from m import
    # name`` may call a module ``__getattr__``, so it does not count.
    if isinstance(stmt, (ast.Pass, ast.Import)):
        return True
    if isinstance(stmt, ast.ImportFrom):
        return stmt.module == "__future__"
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
