"""Direct dependencies ("relations") of one file: global deps, path rules, regex rules, implicit pytest files.

Path rules whose glob matches the file run their actions; each regex rule then runs its actions once per
match of its regex in the file, with ``$1``, ``$2`` ... replaced by the capture groups. An ``exclude`` list
skips the actions next to it (a path rule's own actions, or one regex rule's) for matching files.
Input (test) files also depend on every ``conftest.py`` and ``__init__.py`` from their folder up to the
base dir, because pytest imports those before the test.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Optional

from dryci.dagger.config import Config, RuleActions
from dryci.dagger.distributions import stdlib_names
from dryci.dagger.filecache import FileFacts
from dryci.dagger.globs import FileTree, Matcher, compile_globs
from dryci.dagger.imports import ImportScan
from dryci.dagger.resolve import ModuleResolver

__all__ = ["RuleEngine", "folders_up", "substitute"]

_GROUP_REF = re.compile(r"\$(\d+)")
_IMPORTING_SUFFIXES = (".py", ".pyi", ".pyx", ".pxd")


def substitute(template: str, groups: Optional[tuple[str, ...]]) -> str:
    """Replace ``$0``, ``$1`` ... with the regex match's groups (unknown numbers stay as written)."""
    if groups is None or "$" not in template:
        return template

    def repl(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return groups[index] if index < len(groups) else match.group(0)

    return _GROUP_REF.sub(repl, template)


def folders_up(rel: str) -> list[str]:
    """The file's folder and each parent up to and including the base (``.``)."""
    folder = posixpath.dirname(rel) or "."
    out = [folder]
    while folder != ".":
        folder = posixpath.dirname(folder) or "."
        out.append(folder)
    return out


def _in(folder: str, name: str) -> str:
    return name if folder == "." else f"{folder}/{name}"


@dataclass
class _CompiledRule:
    matcher: Matcher
    exclude: Matcher
    actions: RuleActions
    regex_rules: list[tuple[str, re.Pattern[str], Matcher, RuleActions]] = field(default_factory=list)


class RuleEngine:
    """Computes the relations of files; holds the compiled rules and per-run caches."""

    def __init__(self, config: Config, tree: FileTree, facts: FileFacts, resolver: ModuleResolver) -> None:
        self.config = config
        self.tree = tree
        self.facts = facts
        self.resolver = resolver
        self.global_exclude = compile_globs(config.global_exclude)
        self._stdlib = stdlib_names() | {"__future__", "__main__"}
        # Warnings of the file being analyzed; `relations` returns them with its result.
        self._warnings: list[str] = []
        self._rules = [
            _CompiledRule(
                matcher=compile_globs((rule.pattern,)),
                exclude=compile_globs(rule.actions.exclude),
                actions=rule.actions,
                regex_rules=[
                    (rx.pattern, rx.regex, compile_globs(rx.actions.exclude), rx.actions)
                    for rx in rule.regex_rules
                ],
            )
            for rule in config.path_rules
        ]

    def relations(self, rel: str, is_input: bool) -> tuple[list[str], tuple[str, ...], tuple[str, ...]]:
        """Sorted, de-duplicated direct dependencies of ``rel`` (global excludes removed), warnings, and
        the top-level names of the modules it imports from outside the project (see ``external_names``)."""
        self._warnings = []
        out: list[str] = list(self.config.global_deps)
        if is_input:
            for folder in folders_up(rel):
                for name in ("conftest.py", "__init__.py"):
                    candidate = _in(folder, name)
                    if candidate != rel and self.tree.is_file(candidate):
                        out.append(candidate)
        if not self.global_exclude(rel):
            for rule in self._rules:
                if not rule.matcher(rel):
                    continue
                # A rule's `exclude` skips its own actions; each regex rule has its own `exclude`.
                if not rule.exclude(rel):
                    self._apply(rule.actions, rel, None, out)
                for pattern, regex, exclude, actions in rule.regex_rules:
                    if exclude(rel):
                        continue
                    for groups in self.facts.regex_matches(rel, pattern, regex):
                        self._apply(actions, rel, groups, out)
        unique = sorted(set(out))
        if self.global_exclude:
            unique = [path for path in unique if not self.global_exclude(path)]
        externals = self.external_names(rel) if not self.global_exclude(rel) else ()
        return unique, tuple(self._warnings), externals

    def external_names(self, rel: str) -> tuple[str, ...]:
        """Top-level names a Python file imports that no project file provides (nor the standard
        library): the candidates for distributions. Every Python file counts, whatever the rules say:
        an import of a distribution needs no rule to load it."""
        if not rel.endswith(_IMPORTING_SUFFIXES):
            return ()
        names = set()
        for level, module, _names in self.facts.imports(rel)[0]:
            if level == 0 and module:
                top = module.split(".", 1)[0]
                if top not in self._stdlib and not self.resolver.is_project_module(top):
                    names.add(top)
        return tuple(sorted(names))

    def _apply(
        self, actions: RuleActions, rel: str, groups: Optional[tuple[str, ...]], out: list[str]
    ) -> None:
        tree = self.tree
        for pattern in actions.visit:
            out.extend(tree.glob(substitute(pattern, groups), "."))
        folder = posixpath.dirname(rel) or "."
        for pattern in actions.visit_siblings:
            out.extend(tree.glob(substitute(pattern, groups), folder))
        if actions.visit_grand_siblings:
            for parent in folders_up(rel):
                for pattern in actions.visit_grand_siblings:
                    out.extend(tree.glob(substitute(pattern, groups), parent))
        scan: Optional[ImportScan] = None
        if actions.visit_imported_python_modules:
            scan = self._scan(rel)
            for ref in scan[0]:
                out.extend(self.resolver.resolve_ref(rel, ref))
        for template in actions.visit_python_all_submodules_for:
            if scan is None:
                scan = self._scan(rel)
            name = substitute(template, groups)
            self._visit_all_submodules(rel, name, scan, out)

    def _scan(self, rel: str) -> ImportScan:
        scan = self.facts.imports(rel)
        if scan[2] is not None and rel.endswith((".py", ".pyi")):
            where = f"syntax error at line {scan[2]}" if scan[2] else "cannot parse it"
            message = f"{rel}: {where}; used a conservative import scan"
            if message not in self._warnings:
                self._warnings.append(message)
        return scan

    def _visit_all_submodules(self, rel: str, name: str, scan: ImportScan, out: list[str]) -> None:
        idents = dict(scan[1])
        if name in idents and not (self.config.root_python_packages and self.resolver.allowed(name)):
            level, module = idents[name]
        else:
            level, module = 0, name
        folders = self.resolver.submodule_folders(rel, level, module)
        if not folders:
            message = f"{rel}: visit_python_all_submodules_for: no package folder found for {name!r}"
            if message not in self._warnings:
                self._warnings.append(message)
        for folder in folders:
            out.extend(self.tree.glob("**/*.py", folder))
