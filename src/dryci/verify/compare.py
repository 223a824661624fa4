"""Pure judgement: the files each test file used versus its closure in the dependency graph.

Every used file missing from the closure becomes a ``Finding`` carrying the ``path_rules`` entry that would
add it: attached to the project file that used it (the reader) when that file is itself in the test's
closure, else to the test file. Reads and listings generalize to every file with the same suffix in that
folder, so a data file added later is covered too.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass

from dryci.verify.usage import KINDS, Usage, Use, use_key


@dataclass(frozen=True, order=True)
class Rule:
    """One ``path_rules`` entry: ``pattern: {action: value}``."""

    pattern: str
    action: str
    value: str


@dataclass(frozen=True)
class Finding:
    test_file: str
    path: str
    kind: str
    reader: str | None
    rule: Rule


@dataclass(frozen=True)
class Verdict:
    checked: tuple[str, ...]  # test files compared with their closure
    not_analyzed: tuple[str, ...]  # test files that ran but are not among the config's inputs
    findings: tuple[Finding, ...]

    @property
    def test_files_with_findings(self) -> tuple[str, ...]:
        return tuple(sorted({f.test_file for f in self.findings}))

    @property
    def missing_files(self) -> tuple[str, ...]:
        return tuple(sorted({f.path for f in self.findings}))

    def by_rule(self) -> dict[Rule, tuple[Finding, ...]]:
        groups: dict[Rule, list[Finding]] = {}
        for finding in sorted(self.findings, key=lambda f: (f.rule, f.test_file, f.path)):
            groups.setdefault(finding.rule, []).append(finding)
        return {rule: tuple(found) for rule, found in groups.items()}


def compare(usage: Usage, closures: Mapping[str, frozenset[str]]) -> Verdict:
    """Findings for every test file in ``closures``; ``usage`` keys missing there are ``not_analyzed``."""
    importers = _importers(usage)
    findings: list[Finding] = []
    for test_file in sorted(usage):
        closure = closures.get(test_file)
        if closure is None:
            continue
        missing: dict[str, list[Use]] = {}
        for use in usage[test_file]:
            if use.path != test_file and use.path not in closure:
                missing.setdefault(use.path, []).append(use)
        for path, uses in sorted(missing.items()):
            use = min(uses, key=lambda u: (KINDS.index(u.kind), u.reader is None, u.via is None, use_key(u)))
            rule = suggest(test_file, use, closure, importers)
            findings.append(Finding(test_file, path, use.kind, use.reader, rule))
    checked = tuple(sorted(t for t in usage if t in closures))
    not_analyzed = tuple(sorted(t for t in usage if t not in closures))
    return Verdict(checked, not_analyzed, tuple(findings))


def _importers(usage: Usage) -> dict[str, set[tuple[str, str | None]]]:
    """module file -> (importing project file, module name), over every test file's window."""
    found: dict[str, set[tuple[str, str | None]]] = {}
    for uses in usage.values():
        for use in uses:
            if use.kind == "imports" and use.reader is not None:
                found.setdefault(use.path, set()).add((use.reader, use.via))
    return found


def suggest(
    test_file: str,
    use: Use,
    closure: frozenset[str],
    importers: Mapping[str, set[tuple[str, str | None]]],
) -> Rule:
    """The rule that puts ``use.path`` into ``test_file``'s closure."""
    reader = use.reader if use.reader in closure else None
    module_name = use.via if use.kind in ("imports", "references") else None
    if use.kind in ("imports", "runs", "references") and reader is None:
        # Module caching hides who imported it in this window; another window may have seen the import.
        for importer, name in sorted(importers.get(use.path, ()), key=lambda x: (x[0], x[1] or "")):
            if importer in closure:
                reader, module_name = importer, name
                break
    subject = reader or test_file
    if use.kind in ("imports", "runs", "references"):
        package = _dynamic_package(subject, use, module_name, importers)
        if package is not None:
            return Rule(subject, "visit_python_all_submodules_for", package)
        return Rule(subject, "visit", use.path)
    folder = use.via if use.kind == "lists" and use.via is not None else posixpath.dirname(use.path)
    suffix = posixpath.splitext(use.path)[1] if use.kind == "reads" else ""
    pattern = f"*{suffix}"
    subject_dir = posixpath.dirname(subject)
    if _is_within(folder, subject_dir):
        rel = posixpath.relpath(folder, subject_dir) if subject_dir else folder
        return Rule(subject, "visit_siblings", pattern if rel == "." else f"{rel}/{pattern}")
    return Rule(subject, "visit", f"{folder}/{pattern}" if folder else pattern)


def _dynamic_package(
    subject: str, use: Use, module_name: str | None, importers: Mapping[str, set[tuple[str, str | None]]]
) -> str | None:
    """The package whose submodules ``subject`` imports by computed name, if the evidence says so.

    A module two or more levels deep (``pkg.plugins.x``) is one of a family: all of ``pkg.plugins``. A
    top-level package's module counts only when ``subject`` imported at least two of its siblings. A
    package's own ``__init__`` goes with its submodules (visiting any submodule visits its packages).
    """
    if module_name is None:
        return None
    names = {name for found in importers.values() for reader, name in found if reader == subject and name}
    if use.path.endswith("/__init__.py") and any(n.startswith(module_name + ".") for n in names):
        return module_name
    package = module_name.rpartition(".")[0]
    if "." in package:
        return package
    if package and len({n for n in names if n.rpartition(".")[0] == package}) >= 2:
        return package
    return None


def _is_within(path: str, folder: str) -> bool:
    return folder == "" or path == folder or path.startswith(folder + "/")
