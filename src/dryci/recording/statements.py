"""Module-level code split into statements, and the names code refers to: pure AST reading.

Module-level code runs once, at import, for every test. Today's finest sound answer to "a constant
changed" would be "every test that imported the module". This module gives the facts for a finer one
(see ``dryci.selection.names``): a module-level statement whose evaluation calls nothing and stores
into nothing but its own names (a constant, an import, a ``def`` with plain decorators, a class body
member) can only be observed through those names, so only tests whose executed code refers to one of
them (or reads names dynamically) need to re-run.

Which statements are *safe* is deliberately narrow: any call (bar a few pure constructors such as
``TypeVar``), lambda, loop, ``with``, attribute or item store, a non-builtin decorator, or a name that
pytest looks up by itself (``pytest_*`` hooks, ``pytestmark``, module ``__getattr__``) makes the
statement unsafe, and its change re-runs every test that imported the module, as before.

Names are plain strings here; the facts store them as short keyed hashes, where a collision can only
make more tests run.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import hashlib
import keyword
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Optional

from dryci.recording.binding import bound_names, pytest_visible

__all__ = ["DOC_READERS", "Statement", "code_names", "module_statements"]

DOC_READERS = frozenset({"__doc__", "getdoc", "help", "render_doc", "getcomments"})
"""Names through which code reads a docstring: a changed docstring counts only where one is used."""
_DYNAMIC_CALLS = frozenset({"getattr", "hasattr", "setattr", "delattr"})
_DYNAMIC_NAMES = frozenset(
    {
        "vars",
        "globals",
        "locals",
        "dir",
        "eval",
        "exec",
        "__dict__",
        "getmembers",
        "import_module",
        "__import__",
    }
)


@dataclass(frozen=True)
class Statement:
    """One module-level statement (or one member of a module-level class body).

    ``fingerprint`` covers everything that runs; ``doc_free`` the same without docstrings, so a change
    of docstrings alone is told apart. ``safe``: a change is observable only through ``defines``.
    ``plain_doc``: a docstring change is observable only by reading ``__doc__`` of ``defines``.
    """

    key: str
    fingerprint: str
    doc_free: str
    defines: frozenset[str]  # "*" for a star import: it binds whatever the other module has
    refs: frozenset[str]  # bare names: this module's globals
    safe: bool
    plain_doc: bool
    unit: str = ""  # the qualname of the function a ``def`` statement defines ("" for others)
    attr_refs: frozenset[str] = frozenset()  # attributes (``m.X``), names imported from elsewhere


def _digest(nodes: Iterable[ast.AST]) -> str:
    text = "\n".join(ast.dump(node, include_attributes=False) for node in nodes)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _identifier(value: str) -> bool:
    return value.isidentifier() and not keyword.iskeyword(value)


def _names_in(node: ast.AST) -> tuple[set[str], set[str]]:
    """(bare names, attribute-like names) a statement refers to."""
    bare: set[str] = set()
    attrs: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            bare.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            attrs.add(sub.attr)
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str) and _identifier(sub.value):
            attrs.add(sub.value)  # getattr(obj, "name"), __all__ entries
        elif isinstance(sub, ast.keyword) and sub.arg:
            attrs.add(sub.arg)
    return bare, attrs


_WORD = re.compile(r"(\.\s*)?\b([^\W\d]\w*)")
_QUOTED = re.compile(r"([\"'])([^\W\d]\w*)\1")
_BY_STRING = re.compile(r"\b(?:get|has|set|del)attr\s*\(")
_LITERAL_SECOND = re.compile(r"\s*[\w.]+\s*,\s*[rbuRBU]?[\"']")
_KEYWORDS = frozenset(keyword.kwlist)


def code_names(text: str) -> tuple[frozenset[str], frozenset[str], bool]:
    """(bare names, attribute-like names) a function's source text may refer to, and whether it
    reads names by string.

    Every identifier in the text counts: after a dot it is an attribute (``m.X``, ``self.x``), a
    quoted identifier is one too (``getattr(obj, "width")``), any other is a bare name (a global of
    its module, a local, a word in a comment). A superset of what the code refers to, found at C
    speed: a name too many only makes a test run that need not. ``getattr(obj, name)`` with anything
    but a string literal as its name, ``vars()``, ``__dict__`` and the like read names by string: a
    function using them may read any changed name.
    """
    bare: set[str] = set()
    attrs: set[str] = set()
    for dot, word in _WORD.findall(text):
        (attrs if dot else bare).add(word)
    attrs.update(word for _, word in _QUOTED.findall(text))
    bare -= _KEYWORDS
    dynamic = not (bare | attrs).isdisjoint(_DYNAMIC_NAMES)
    if not dynamic:
        for match in _BY_STRING.finditer(text):
            if not _LITERAL_SECOND.match(text, match.end()):
                dynamic = True
                break
    return frozenset(bare), frozenset(attrs), dynamic


def _fingerprints(header: ast.stmt) -> tuple[str, str]:
    """(fingerprint, doc_free) from one dump: the docstrings are left out of it (and put back, no
    copy of the tree), then count in the fingerprint only."""
    saved = []
    for sub in ast.walk(header):
        if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and _docstring(sub.body):
            saved.append((sub, sub.body))
    if not saved:
        fingerprint = _digest([header])
        return fingerprint, fingerprint
    for node, body in saved:
        node.body = body[1:] or [ast.Pass()]
    try:
        text = ast.dump(header, include_attributes=False)
    finally:
        for node, body in saved:
            node.body = body
    docs = "\0".join(body[0].value.value for _, body in saved)  # type: ignore[attr-defined]
    doc_free = hashlib.sha256(text.encode()).hexdigest()[:32]
    whole = hashlib.sha256(f"{text}\0{docs}".encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return whole, doc_free


def _kind(stmt: ast.stmt) -> str:
    return type(stmt).__name__.lower()


def _statement(
    key: str, stmt: ast.stmt, header: ast.stmt, defines: set[str] | None, module: bool
) -> Statement:
    fingerprint, doc_free = _fingerprints(header)
    bare: set[str] = set()
    attrs: set[str] = set()
    if isinstance(header, ast.ImportFrom):
        attrs = {alias.name for alias in header.names}  # each binds what it reads of the other module
    elif not (isinstance(header, ast.Import) or (defines is not None and "__all__" in defines)):
        bare, attrs = _names_in(header)  # (an import binds modules; __all__ lists names)
    safe = defines is not None and not pytest_visible(defines, module=module)
    plain_doc = safe or (
        isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not stmt.decorator_list
    )
    names = frozenset(defines) if defines is not None else frozenset(_defined_anyway(stmt))
    if isinstance(header, ast.ImportFrom) and any(alias.name == "*" for alias in header.names):
        names |= {"*"}
    return Statement(
        key, fingerprint, doc_free, names, frozenset(bare), safe, plain_doc, "", frozenset(attrs)
    )


def _defined_anyway(stmt: ast.stmt) -> Iterator[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield stmt.name
    for sub in ast.walk(stmt):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            yield sub.id


def module_statements(skeleton: ast.Module, qualnames: Mapping[int, str]) -> tuple[Statement, ...]:
    """The statements of a module whose function bodies are already out (see ``parse_units``);
    ``qualnames``: id() of each outermost ``def`` node -> the qualname of its unit.

    A class is its header (bases, keywords, decorators, docstring) plus one statement per member,
    so editing one method's signature or one class attribute is told apart from the class. A member
    change also counts for the class when the class may read its body as a whole: a dunder, a field
    (an assignment in the body: dataclasses, enums, named tuples), or a class with keywords.
    """
    out: list[Statement] = []
    seen: dict[str, int] = {}

    def add(key: str, stmt: ast.stmt, header: ast.stmt, defines: set[str] | None, module: bool) -> None:
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            key = f"{key}#{seen[key]}"
        st = _statement(key, stmt, header, defines, module)
        unit = qualnames.get(id(stmt), "")
        out.append(dataclasses.replace(st, unit=unit) if unit else st)

    body = skeleton.body
    if _docstring(body):
        # The module's docstring is its __doc__, read by nothing else.
        out.append(
            Statement(
                "docstring", _digest(body[:1]), _digest([]), frozenset({"__doc__"}), frozenset(), True, True
            )
        )
        body = body[1:]
    for whole_stmt in body:
        for stmt in _per_alias(whole_stmt):
            _add_statement(stmt, add)
    return tuple(out)


def _per_alias(stmt: ast.stmt) -> list[ast.stmt]:
    """``from m import a, b`` as two statements: ``a`` derives from ``m.a`` alone, not from ``b``."""
    if isinstance(stmt, ast.ImportFrom) and len(stmt.names) > 1:
        return [ast.ImportFrom(module=stmt.module, names=[alias], level=stmt.level) for alias in stmt.names]
    if isinstance(stmt, ast.Import) and len(stmt.names) > 1:
        return [ast.Import(names=[alias]) for alias in stmt.names]
    return [stmt]


Add = Callable[[str, ast.stmt, ast.stmt, Optional[set[str]], bool], None]


def _add_statement(stmt: ast.stmt, add: Add) -> None:
    if not isinstance(stmt, ast.ClassDef):
        defines = bound_names(stmt)
        label = ",".join(sorted(defines or _defined_anyway(stmt))) or "-"
        add(f"{_kind(stmt)} {label}", stmt, stmt, defines, True)
        return
    header = copy.copy(stmt)  # bases, keywords, decorators, type parameters; the body apart
    header.body = stmt.body[:1] if _docstring(stmt.body) else []
    whole = bound_names(header)
    add(f"class {stmt.name}", stmt, header, whole, True)
    for member in stmt.body[1:] if _docstring(stmt.body) else stmt.body:
        defines = bound_names(member)
        if defines is not None and (
            stmt.keywords
            or stmt.decorator_list
            or isinstance(member, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.ClassDef))
            or any(n.startswith("__") and n.endswith("__") for n in defines)
        ):
            defines = defines | {stmt.name}
        if whole is None and defines is not None:
            defines = None  # a class with calls in its header (or odd decorators) reads its body
        label = ",".join(sorted(defines or _defined_anyway(member))) or "-"
        add(f"{stmt.name}.{_kind(member)} {label}", member, member, defines, False)


def _docstring(body: list[ast.stmt]) -> bool:
    first = body[0] if body else None
    return (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )
