"""Mutants: the functions a commit changed, made to raise.

A mutant inserts ``raise RuntimeError(...)`` as the first statement of a changed function's body,
in the scratch worktree only. If a plain run then sees tests fail, DryCI must select every one of
them (mutation-based safety, as in the regression-test-selection literature).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

__all__ = [
    "MUTANT_MESSAGE",
    "Mutant",
    "changed_functions",
    "is_test_file",
    "mutants_of",
    "mutated",
    "read_sources",
]

MUTANT_MESSAGE = "dryci replay mutant"

_Function = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass(frozen=True)
class Mutant:
    path: str  # relative to the repository, POSIX
    function: str  # qualified name, e.g. Graph.add_node
    line: int  # where the raise goes (1-based); the body's first statement moves down
    indent: str

    def __str__(self) -> str:
        return f"{self.path}::{self.function}"


def is_test_file(path: str) -> bool:
    """Test files and conftests are what the tests are, not what they test: never mutated."""
    name = PurePosixPath(path).name
    return name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py")


def _functions(tree: ast.AST) -> Iterable[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function with its qualified name, outer ones before the ones nested in them."""
    stack: list[tuple[str, ast.AST]] = [("", tree)]
    while stack:
        prefix, node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (*_Function, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if isinstance(child, _Function):
                    yield name, child
                stack.append((name + ".", child))
            else:
                stack.append((prefix, child))


def changed_functions(path: str, source: str, lines: set[int]) -> list[Mutant]:
    """One mutant per innermost function that holds a changed line, in source order.

    A function whose body starts on its ``def`` line (``def f(): return 1``) is left out: there is no
    line to insert the raise on without rewriting the file.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    text = source.splitlines()
    spans: list[tuple[int, int, Mutant | None]] = []
    for name, func in _functions(tree):
        start = min([func.lineno, *(d.lineno for d in func.decorator_list)])
        end = func.end_lineno or func.lineno
        first = func.body[0]
        line = min([first.lineno, *(d.lineno for d in getattr(first, "decorator_list", []))])
        indent = text[line - 1][: first.col_offset] if line <= len(text) else ""
        # None: a body that starts on its def line; it still hides the changes from outer functions.
        usable = line != func.lineno and not indent.strip()
        spans.append((start, end, Mutant(path, name, line, indent) if usable else None))
    found: dict[int, Mutant] = {}
    for n in lines:
        holding = [(end - start, mutant) for start, end, mutant in spans if start <= n <= end]
        if holding:
            innermost = min(holding, key=lambda pair: pair[0])[1]
            if innermost is not None:
                found[innermost.line] = innermost
    return [found[line] for line in sorted(found)]


def mutated(source: str, mutant: Mutant) -> str:
    """``source`` with the mutant's raise inserted."""
    lines = source.splitlines(keepends=True)
    raise_line = f'{mutant.indent}raise RuntimeError("{MUTANT_MESSAGE}: {mutant.function}")\n'
    return "".join([*lines[: mutant.line - 1], raise_line, *lines[mutant.line - 1 :]])


def mutants_of(changed: Mapping[str, set[int]], sources: Mapping[str, str], limit: int) -> list[Mutant]:
    """Up to ``limit`` mutants of the changed non-test Python files, by path then line."""
    chosen: list[Mutant] = []
    for path in sorted(changed):
        if len(chosen) >= limit:
            break
        if path.endswith(".py") and not is_test_file(path) and path in sources:
            chosen.extend(changed_functions(path, sources[path], changed[path]))
    return chosen[:limit]


def read_sources(worktree: Path, paths: Iterable[str]) -> dict[str, str]:
    """``{path: text}`` of the files that can be mutated; public so that another tool driven over the
    same commits (the benchmark's testmon pass) meets exactly the same mutants."""
    sources = {}
    for path in paths:
        try:
            sources[path] = (worktree / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # deleted, binary or not UTF-8: nothing to mutate
    return sources
