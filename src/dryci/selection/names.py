"""Module-level changes narrowed to the tests whose code uses what changed: pure functions.

A module-level statement whose evaluation calls nothing and stores into nothing but its own names
(``SAFE``: a constant, an import, a plain ``def`` signature, a class member; see
``dryci.recording.statements``) can be observed only by code that refers to one of those names, or
to a name bound from them elsewhere (``from m import X``, ``Y = X + 1``). So when only such
statements changed, the tests to re-run are those that executed a function referring to one of them
(or reading names by string), wherever that function lives; a function that ran for every test of
a file (collection, fixtures, imports) re-runs the whole file, as before. A docstring counts only
where code also reads docstrings (``__doc__``, ``inspect.getdoc``).

Anything less certain re-runs every test that has the file in its closure: a changed statement that
calls something, statements reordered, a test file or ``conftest.py`` (pytest reads them by name),
old facts without statements, or an unsafe statement anywhere in the closure that refers to a
changed name.
"""

from __future__ import annotations

import posixpath
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from dryci.protocol.facts import NO_UNIT, Facts, StatementFacts
from dryci.recording.statements import DOC_READERS, Statement
from dryci.recording.units import ModuleUnits
from dryci.selection.keys import Keys

__all__ = [
    "Requirement",
    "Resolved",
    "Users",
    "derive",
    "for_closure",
    "resolve",
    "statement_changes",
    "users_of",
]


@dataclass(frozen=True)
class Requirement:
    """A test is affected when, for every group, some code it executed refers to a name of it."""

    path: str  # the file whose module-level code changed
    groups: tuple[frozenset[int], ...]
    label: str
    # Functions whose own definition (signature, decorators, defaults) changed: a test that ran one
    # re-runs too, even when nothing in the project refers to it by name (a framework calls it).
    units: frozenset[bytes] = frozenset()


def _label(names: Iterable[str]) -> str:
    shown = sorted(names)
    text = ", ".join(shown[:3])
    return text + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")


def read_by_name(path: str, units: ModuleUnits) -> str | None:
    """Why code outside the project may read this file's module-level names by string, or None.

    pytest reads ``conftest.py`` (test files are told apart by the caller); frameworks read
    settings modules (Django, Flask ``from_object``, Celery, Sphinx), which hold constants only.
    """
    name = posixpath.basename(path)
    if name.startswith("conftest"):
        return "pytest reads it by name"
    if (
        name in _SETTINGS
        or name.startswith("settings")
        or name.endswith("_settings.py")
        or not units.functions
    ):
        return "a module of settings or constants only, which frameworks read by name"
    return None


_SETTINGS = frozenset({"conf.py", "config.py", "setup.py", "manage.py", "noxfile.py", "fabfile.py"})


def statement_changes(path: str, old: Facts, new: ModuleUnits, keys: Keys) -> tuple[Requirement, ...] | str:
    """The requirements the module-level changes of ``path`` make, or why every test must run."""
    if old.statements is None or not new.statements:
        return f"{path}: module-level code changed"
    why = read_by_name(path, new)
    if why is not None:
        return f"{path}: module-level code changed ({why})"
    old_by = {st.key: st for st in old.statements}
    new_by = {keys.name(st.key): st for st in new.statements}
    old_order = [st.key for st in old.statements if st.key in new_by]
    new_order = [k for k in new_by if k in old_by]
    if old_order != new_order:
        return f"{path}: module-level code reordered"
    short = keys.short
    doc_readers = frozenset(map(short, DOC_READERS))
    out: list[Requirement] = []
    fid = keys.file(path)
    for key, st in new_by.items():
        before = old_by.get(key)
        if before is not None and keys.fingerprint(st.fingerprint) == before.fingerprint:
            continue
        defines = frozenset(map(short, st.defines)) | (before.defines if before else frozenset())
        if (
            before is not None
            and keys.fingerprint(st.doc_free) == before.doc_free
            and st.plain_doc
            and before.plain_doc
        ):
            out.append(
                Requirement(
                    path, (defines, doc_readers), f"{path}: docstring of {_label(st.defines)} changed"
                )
            )
        elif st.safe and (before is None or before.safe):
            verb = "added" if before is None else "changed"
            own = {keys.unit(path, st.unit)} if st.unit else set()
            if before is not None and before.unit != NO_UNIT:
                own.add(keys.unit_of(fid, before.unit))
            label = f"{path}: module-level {_label(st.defines)} {verb}"
            out.append(Requirement(path, (defines,), label, frozenset(own)))
        else:
            return f"{path}: module-level code changed ({_changed(st)})"
    for key, gone in old_by.items():
        if key not in new_by:
            if not gone.safe:
                return f"{path}: module-level code changed (a statement was removed)"
            own = {keys.unit_of(fid, gone.unit)} if gone.unit != NO_UNIT else set()
            label = f"{path}: a module-level statement was removed"
            out.append(Requirement(path, (gone.defines,), label, frozenset(own)))
    return tuple(out)


def _changed(st: Statement) -> str:
    return st.key.split(" ", 1)[-1] if st.defines else st.key


def derive(
    requirements: Sequence[Requirement], statements: Iterable[tuple[str, StatementFacts]], keys: Keys
) -> tuple[tuple[Requirement, dict[str, str]], ...]:
    """Each requirement with its first group grown by every name bound from its names elsewhere, and
    the files (path -> reason) whose unsafe module-level code refers to one of them: a test file
    having one of those in its closure re-runs all its tests."""
    every = list(statements)
    out = []
    for req in requirements:
        names = set(req.groups[0])
        units = set(req.units)
        poisoned: dict[str, str] = {}
        grew = True
        while grew:
            grew = False
            for path, st in every:
                if names.isdisjoint(st.refs):
                    continue
                if not st.safe:
                    poisoned.setdefault(path, f"{req.label}, and module-level code of {path} uses it")
                    continue
                if st.unit != NO_UNIT:
                    units.add(keys.unit_of(keys.file(path), st.unit))  # a default uses it: def f(x=RATE)
                if not st.defines <= names:
                    names |= st.defines
                    grew = True
        groups = (frozenset(names), *req.groups[1:])
        out.append((Requirement(req.path, groups, req.label, frozenset(units)), poisoned))
    return tuple(out)


@dataclass(frozen=True)
class Users:
    """For one requirement: per group, the unit ids of the functions that refer to one of its names."""

    requirement: Requirement
    groups: tuple[frozenset[bytes], ...]


def users_of(
    requirements: Sequence[Requirement], facts: Mapping[str, Facts], keys: Keys
) -> tuple[Users, ...]:
    """``facts``: version 2 facts of every closure file as it is now."""
    units: list[tuple[bytes, frozenset[int], bool]] = []
    for path, fact in facts.items():
        if fact.units is None or fact.names is None:
            continue
        fid = keys.file(path)
        dynamic = fact.dynamic or frozenset()
        for name, used in fact.names.items():
            units.append((keys.unit_of(fid, name), used, name in dynamic))
    out = []
    for req in requirements:
        groups = tuple(
            frozenset(unit for unit, used, dynamic in units if dynamic or not used.isdisjoint(group))
            for group in req.groups
        )
        out.append(Users(req, (groups[0] | req.units, *groups[1:])))
    return tuple(out)


Resolved = Mapping[int, tuple[Users, Mapping[str, str]]]
"""id() of a requirement -> the functions that use what changed, and the files (path -> reason)
whose module-level code uses it in a way that counts for every test of a file having it."""


def resolve(
    requirements: Sequence[Requirement], now: Mapping[str, Facts], missing: Iterable[str], keys: Keys
) -> Resolved:
    """``now``: the facts of every closure file as it is now; ``missing``: closure files without."""
    statements = [(p, st) for p, f in now.items() if f.statements is not None for st in f.statements]
    derived = derive(requirements, statements, keys)
    found = users_of([req for req, _ in derived], now, keys)
    out: dict[int, tuple[Users, Mapping[str, str]]] = {}
    for original, use, (req, poisoned) in zip(requirements, found, derived):
        reasons = dict(poisoned)
        for path in missing:
            reasons.setdefault(path, f"{req.label}, and {path} has no facts to tell whether it uses it")
        out[id(original)] = (use, reasons)
    return out


def for_closure(
    requirements: Iterable[Requirement], resolved: Resolved, closure: Collection[str]
) -> tuple[str | None, list[Users]]:
    """For one test file: why all its tests run (a file of its closure uses a change in a way that
    counts for every test), else the users of its narrowed changes."""
    uses = []
    for req in requirements:
        use, reasons = resolved[id(req)]
        for path in sorted(reasons):
            if path in closure:
                return reasons[path], []
        uses.append(use)
    return None, uses
