"""Project modules reachable from a test module's globals, through the imported-module graph.

A module imported first by an earlier test file is served from ``sys.modules`` later, without any import
event; what the later test module holds (modules, and classes or functions by their ``__module__``)
still names it. Following those references module by module gives every project module the test module
can reach at import time, plus the packages that contain them.
"""

from __future__ import annotations

import sys
from types import FunctionType, ModuleType

from dryci.verify.paths import PathFilter
from dryci.verify.usage import Use


def _module_of(value: object) -> ModuleType | None:
    if isinstance(value, ModuleType):
        return value
    if isinstance(value, (type, FunctionType)):
        name = getattr(value, "__module__", None)
        if isinstance(name, str):
            return sys.modules.get(name)
    return None


def reachable_modules(root: ModuleType, paths: PathFilter) -> set[Use]:
    """``references`` uses for every project module reachable from ``root`` (``root`` excluded)."""
    seen: dict[str, str] = {}  # module name -> relative file
    stack = [root]
    visited = {id(root)}
    while stack:
        module = stack.pop()
        try:
            values = list(vars(module).items())
        except TypeError:
            continue
        prefix = module.__name__ + "."
        for name, value in values:
            target = _module_of(value)
            if target is None or id(target) in visited:
                continue
            if isinstance(value, ModuleType) and target.__name__ == prefix + name:
                # The import system binds every imported submodule on its package, whoever imported it;
                # following those would reach every module loaded so far. A package's own imports of its
                # submodules are static, which the dependency analysis sees.
                continue
            visited.add(id(target))
            filename = getattr(target, "__file__", None)
            rel = paths.relative(filename) if isinstance(filename, str) else None
            if rel is None:
                continue  # stdlib, site-packages, namespace packages: nothing a rule could name
            seen[target.__name__] = rel
            stack.append(target)
    uses = {Use(rel, "references", None, name) for name, rel in seen.items()}
    for name in list(seen):
        uses.update(_parent_packages(name, paths))
    root_file = getattr(root, "__file__", None)
    if isinstance(root_file, str):
        uses.update(_parent_packages(root.__name__, paths))
    return uses


def _parent_packages(name: str, paths: PathFilter) -> set[Use]:
    uses = set()
    parts = name.split(".")
    for i in range(1, len(parts)):
        parent = sys.modules.get(".".join(parts[:i]))
        filename = getattr(parent, "__file__", None)
        rel = paths.relative(filename) if isinstance(filename, str) else None
        if rel is not None:
            uses.add(Use(rel, "references", None, ".".join(parts[:i])))
    return uses
