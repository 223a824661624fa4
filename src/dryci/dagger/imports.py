"""Import extraction from Python source: the AST first, a conservative regex scan when it cannot parse.

The result is plain data (so the per-file cache can store it) describing what a file *may* import:

* ``refs``: ``(level, module, names)`` triples. ``level`` counts the leading dots of a relative import,
  ``names`` are the names after ``from ... import`` (each may be a submodule; aliases are kept too, which
  only ever adds dependencies).
* ``idents``: local name -> ``(level, module)``, used by ``visit_python_all_submodules_for``.
* ``error_line``: the line of the syntax error that forced the regex scan, else None.

Every import form counts, wherever it sits: module level, functions, ``try``/``if``/``TYPE_CHECKING``
blocks, plus ``importlib.import_module("literal")`` and ``__import__("literal")``.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterator
from typing import Optional

__all__ = ["ImportRef", "ImportScan", "regex_scan", "scan_imports"]

ImportRef = tuple[int, str, tuple[str, ...]]
# (refs, idents as sorted pairs, syntax error line or None)
ImportScan = tuple[tuple[ImportRef, ...], tuple[tuple[str, tuple[int, str]], ...], Optional[int]]

_DYNAMIC_NAMES = ("import_module", "__import__")

_RE_IMPORT = re.compile(rb"^[ \t]*(?:c?import)[ \t]+([^\n#;]+)", re.MULTILINE)
_RE_FROM = re.compile(
    rb"^[ \t]*from[ \t]+(\.*[\w.]*)[ \t]+c?import[ \t]*(\([^)]*\)|[^\n#;]*)",
    re.MULTILINE,
)
_RE_DYNAMIC = re.compile(rb"""(?:import_module|__import__)\(\s*(?:[rbuRBU]?)['"]([.\w]+)['"]""")
_RE_IDENT = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
_RE_DOTTED = re.compile(rb"[A-Za-z_][\w.]*")


def _split_relative(name: str) -> tuple[int, str]:
    stripped = name.lstrip(".")
    return len(name) - len(stripped), stripped


class _Collector:
    def __init__(self) -> None:
        self.refs: list[ImportRef] = []
        self.idents: dict[str, tuple[int, str]] = {}

    def add_import(self, module: str, asname: Optional[str]) -> None:
        self.refs.append((0, module, ()))
        self.idents[asname or module] = (0, module)
        if asname is None:
            # `import a.b` binds `a`; `a.b` is how the code refers to it (and how repo_dagger looks it up).
            self.idents.setdefault(module.split(".", 1)[0], (0, module.split(".", 1)[0]))

    def add_from(self, level: int, module: str, aliases: list[tuple[str, Optional[str]]]) -> None:
        names: list[str] = []
        for name, asname in aliases:
            if name == "*":
                continue
            names.append(name)
            full = f"{module}.{name}" if module else name
            self.idents[asname or name] = (level, full)
            if asname:
                names.append(asname)
        self.refs.append((level, module, tuple(names)))

    def result(self, error_line: Optional[int]) -> ImportScan:
        return tuple(self.refs), tuple(sorted(self.idents.items())), error_line


def scan_imports(source: bytes, filename: str = "<file>") -> ImportScan:
    """Every import a Python file may perform; falls back to ``regex_scan`` on a syntax error."""
    try:
        with warnings.catch_warnings():
            # Invalid escape sequences and the like warn at parse time; they are not our business.
            warnings.simplefilter("ignore")
            tree = compile(source, filename, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        return regex_scan(source, error_line=exc.lineno or 0)
    except (ValueError, UnicodeDecodeError, MemoryError, RecursionError):
        # Null bytes, undecodable text: not Python we can parse, so scan conservatively.
        return regex_scan(source, error_line=0)
    collector = _Collector()
    # Dynamic imports are calls, inside expressions: walk everything only when the source mentions one.
    dynamic = any(name.encode() in source for name in _DYNAMIC_NAMES)
    nodes = ast.walk(tree) if dynamic else _statements(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                collector.add_import(alias.name, alias.asname)
        elif isinstance(node, ast.ImportFrom):
            collector.add_from(node.level or 0, node.module or "", [(a.name, a.asname) for a in node.names])
        elif isinstance(node, ast.Call):
            literal = _dynamic_import_literal(node)
            if literal is not None:
                level, module = _split_relative(literal)
                collector.refs.append((level, module, ()))
    return collector.result(None)


def _statements(tree: ast.AST) -> Iterator[ast.AST]:
    """Every statement, at any depth, without visiting expressions (imports are statements)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        yield node
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            children = getattr(node, field, None)
            if isinstance(children, list):
                stack.extend(children)


def _dynamic_import_literal(node: ast.Call) -> Optional[str]:
    func = node.func
    if isinstance(func, ast.Attribute):
        name = func.attr
    elif isinstance(func, ast.Name):
        name = func.id
    else:
        return None
    if name not in _DYNAMIC_NAMES or not node.args:
        return None
    first = node.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str) and first.value:
        return first.value
    return None


def regex_scan(source: bytes, error_line: Optional[int] = None) -> ImportScan:
    """A conservative line-based scan for files the AST cannot read (and for Cython sources)."""
    collector = _Collector()
    for match in _RE_FROM.finditer(source):
        level, module = _split_relative(match.group(1).decode("utf-8", "replace"))
        idents = [
            ident.decode() for ident in _RE_IDENT.findall(match.group(2)) if ident not in (b"as", b"import")
        ]
        collector.add_from(level, module, [(ident, None) for ident in idents])
    for match in _RE_IMPORT.finditer(source):
        for part in match.group(1).split(b","):
            dotted = _RE_DOTTED.match(part.strip().lstrip(b"(").strip())
            if dotted:
                collector.add_import(dotted.group(0).decode().rstrip("."), None)
    for match in _RE_DYNAMIC.finditer(source):
        level, module = _split_relative(match.group(1).decode("utf-8", "replace"))
        collector.refs.append((level, module, ()))
    return collector.result(error_line)
