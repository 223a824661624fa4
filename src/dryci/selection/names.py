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
    # How code that reads names by string (getattr(obj, name)) gets hold of the object holding what
    # changed: the class of a changed member. None: any such code counts (a removed member).
    owners: frozenset[int] | None = frozenset()


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
            label = f"{path}: docstring of {_label(st.defines)} changed"
            out.append(Requirement(path, (defines, doc_readers), label, frozenset(), _owners(st, keys)))
        elif st.safe and (before is None or before.safe):
            verb = "added" if before is None else "changed"
            own = {keys.unit(path, st.unit)} if st.unit else set()
            if before is not None and before.unit != NO_UNIT:
                own.add(keys.unit_of(fid, before.unit))
            label = f"{path}: module-level {_label(st.defines)} {verb}"
            out.append(Requirement(path, (defines,), label, frozenset(own), _owners(st, keys)))
        else:
            return f"{path}: module-level code changed ({_changed(st)})"
    for key, gone in old_by.items():
        if key not in new_by:
            if not gone.safe:
                return f"{path}: module-level code changed (a statement was removed)"
            own = {keys.unit_of(fid, gone.unit)} if gone.unit != NO_UNIT else set()
            label = f"{path}: a module-level statement was removed"
            out.append(Requirement(path, (gone.defines,), label, frozenset(own), None))
    return tuple(out)


def _owners(st: Statement, keys: Keys) -> frozenset[int]:
    head = st.key.split(" ", 1)[0]  # "K.functiondef" for a member of class K, else the kind
    return frozenset({keys.short(head.split(".", 1)[0])}) if "." in head else frozenset()


def module_name(path: str) -> str:
    """The name a module is imported by, last part: ``core`` for ``src/click/core.py``."""
    stem = posixpath.basename(path).rsplit(".", 1)[0]
    return posixpath.basename(posixpath.dirname(path)) if stem == "__init__" else stem


# Ways to reach a module object without naming it.
_MODULE_LOOKUPS = ("import_module", "__import__", "modules", "getmodule")


def _changed(st: Statement) -> str:
    return st.key.split(" ", 1)[-1] if st.defines else st.key


@dataclass(frozen=True)
class Derived:
    """A requirement's first group spread over the closure: which bare names of each file and which
    attribute names now stand for what changed; the functions whose own ``def`` uses it."""

    requirement: Requirement
    bare: Mapping[str, frozenset[int]]  # path -> its globals bound from what changed
    attrs: frozenset[int]  # read off a module or an object: ``m.X``, ``from m import X``
    units: frozenset[bytes]
    poisoned: Mapping[str, str]  # path -> why every test having it in its closure re-runs


def derive(
    requirements: Sequence[Requirement], statements: Iterable[tuple[str, StatementFacts]], keys: Keys
) -> tuple[Derived, ...]:
    """Each requirement with its names followed through module-level code: in the file that changed
    they are its globals; elsewhere code reaches them as attributes (``m.X``) or binds them by
    ``from m import X`` (or ``*``), and a safe statement referring to one binds more. An unsafe
    statement referring to one poisons its file."""
    every = list(statements)
    star_id = keys.short("*")
    star = [(path, st) for path, st in every if star_id in st.defines]
    out = []
    for req in requirements:
        changed = req.groups[0]
        bare: dict[str, set[int]] = {req.path: set(changed)}
        attrs = set(changed)
        units = set(req.units)
        poisoned: dict[str, str] = {}
        grew = True
        while grew:
            grew = False
            for path, _ in star:  # ``from m import *`` may bind any of them here
                own = bare.setdefault(path, set())
                if not attrs <= own:
                    own |= attrs
                    grew = True
            for path, st in every:
                own = bare.get(path, set())
                if own.isdisjoint(st.refs) and attrs.isdisjoint(st.attr_refs):
                    continue
                if not st.safe:
                    poisoned.setdefault(path, f"{req.label}, and module-level code of {path} uses it")
                    continue
                if st.unit != NO_UNIT:
                    units.add(keys.unit_of(keys.file(path), st.unit))  # a default uses it: def f(x=RATE)
                defines = st.defines - {star_id}
                if not defines <= own or not defines <= attrs:
                    bare.setdefault(path, set()).update(defines)
                    attrs |= defines
                    grew = True
        frozen = {path: frozenset(names) for path, names in bare.items()}
        out.append(Derived(req, frozen, frozenset(attrs), frozenset(units), poisoned))
    return tuple(out)


@dataclass(frozen=True)
class Users:
    """For one requirement, alternatives: a test is affected when, for some alternative, it executed
    a function of each of its groups (unit ids)."""

    requirement: Requirement
    alternatives: tuple[tuple[frozenset[bytes], ...], ...]


def users_of(derived: Sequence[Derived], facts: Mapping[str, Facts], keys: Keys) -> tuple[Users, ...]:
    """``facts``: version 2 facts of every closure file as it is now."""
    units: list[tuple[str, bytes, frozenset[int], frozenset[int], bool]] = []
    for path, fact in facts.items():
        if fact.units is None or fact.names is None:
            continue
        fid = keys.file(path)
        dynamic = fact.dynamic or frozenset()
        attrs = fact.attrs or {}
        for name, used in fact.names.items():
            read = attrs.get(name, frozenset())
            units.append((path, keys.unit_of(fid, name), used, read, name in dynamic))
    empty: frozenset[int] = frozenset()
    lookups = frozenset(map(keys.short, _MODULE_LOOKUPS))
    dynamic_units = frozenset(unit for _, unit, _, _, dynamic in units if dynamic)

    def referring(names: frozenset[int]) -> frozenset[bytes]:
        return frozenset(
            u for _, u, used, read, _ in units if not used.isdisjoint(names) or not read.isdisjoint(names)
        )

    out = []
    for d in derived:
        req = d.requirement
        named = frozenset(
            unit
            for path, unit, used, read, _ in units
            if not used.isdisjoint(d.bare.get(path, empty)) or not read.isdisjoint(d.attrs)
        )
        rest = tuple(referring(group) | dynamic_units for group in req.groups[1:])
        # Code reading names by string counts where the test also got hold of what holds them: a
        # module bound from (by its name, or looked up), or the class of a changed member.
        if req.owners is None:
            by_string: tuple[frozenset[bytes], ...] = (dynamic_units, *rest)
        else:
            holders = frozenset(keys.short(module_name(p)) for p in d.bare) | lookups | req.owners
            by_string = (dynamic_units, referring(holders), *rest)
        out.append(Users(req, ((named | d.units, *rest), by_string)))
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
    found = users_of(derived, now, keys)
    out: dict[int, tuple[Users, Mapping[str, str]]] = {}
    for original, use, d in zip(requirements, found, derived):
        req = d.requirement
        reasons = dict(d.poisoned)
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
