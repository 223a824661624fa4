"""Import extraction from Python source: each import statement parsed on its own, conservatively.

The result is plain data (so the per-file cache can store it) describing what a file *may* import:

* ``refs``: ``(level, module, names)`` triples. ``level`` counts the leading dots of a relative import,
  ``names`` are the names after ``from ... import`` (each may be a submodule; aliases are kept too, which
  only ever adds dependencies).
* ``idents``: local name -> ``(level, module)``, used by ``visit_python_all_submodules_for``.
* ``error_line``: the first line of an import statement that did not parse, else None.

Every import form counts, wherever it sits: module level, functions, ``try``/``if``/``TYPE_CHECKING``
blocks, plus ``importlib.import_module("literal")``, ``__import__("literal")``,
``pytest.importorskip("literal")`` and the modules named in a conftest's ``pytest_plugins``.
"""

from __future__ import annotations

import ast
import re
from typing import Optional

__all__ = ["ImportRef", "ImportScan", "regex_scan", "scan_imports"]

ImportRef = tuple[int, str, tuple[str, ...]]
# (refs, idents as sorted pairs, syntax error line or None)
ImportScan = tuple[tuple[ImportRef, ...], tuple[tuple[str, tuple[int, str]], ...], Optional[int]]


_RE_IMPORT = re.compile(rb"(?:^|[;:])[ \t]*(?:c?import)[ \t]+([^\n#;]+)", re.MULTILINE)
_RE_FROM = re.compile(
    rb"^[ \t]*from[ \t]+(\.*[\w.]*)[ \t]+c?import[ \t]*(\([^)]*\)|[^\n#;]*)",
    re.MULTILINE,
)
_RE_DYNAMIC = re.compile(rb"""(?:import_module|__import__|importorskip)\(\s*(?:[rbuRBU]?)['"]([.\w]+)['"]""")
_RE_PYTEST_PLUGINS = re.compile(
    rb"""(?m:^pytest_plugins[ \t]*=[ \t]*(\[[^\]]*\]|\([^)]*\)|['"][^'"\n]*['"]))"""
)
_RE_STRING = re.compile(rb"""['"]([A-Za-z_][\w.]*)['"]""")
_RE_COMMENT = re.compile(rb"#[^\n]*")
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

    def add_from(
        self, level: int, module: str, aliases: list[tuple[str, Optional[str]]], extra: tuple[str, ...] = ()
    ) -> None:
        names: list[str] = []
        for name, asname in aliases:
            if name == "*":
                continue
            names.append(name)
            full = f"{module}.{name}" if module else name
            self.idents[asname or name] = (level, full)
            if asname:
                names.append(asname)
        names.extend(word for word in extra if word not in names)
        self.refs.append((level, module, tuple(names)))

    def result(self, error_line: Optional[int]) -> ImportScan:
        return tuple(self.refs), tuple(sorted(self.idents.items())), error_line


def scan_imports(source: bytes, filename: str = "<file>") -> ImportScan:
    """Every import a Python file may perform, found statement by statement.

    Parsing whole files with ``ast`` costs about 4 ms per 100 kB; instead every ``import`` keyword that
    starts a statement (at a line start, after ``;`` or after a compound statement's ``:``) is located
    with plain byte searches, and only that statement is parsed with ``ast``. Statements that do not
    parse (prose in a docstring, Cython's ``cimport``) are read by the conservative regex scan, so a
    file with a syntax error elsewhere loses nothing. ``error_line`` is the first line of an import
    statement that had to be scanned that way, when it was not inside a string.
    """
    collector = _Collector()
    error_line: Optional[int] = None
    for start, end in _statement_spans(source):
        snippet = source[start:end]
        if _simple(collector, snippet, source, end):
            continue
        try:
            tree = ast.parse(snippet)
        except (SyntaxError, ValueError):
            _regex_into(collector, snippet)
            if error_line is None and _looks_like_code(source, start):
                error_line = source.count(b"\n", 0, start) + 1
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    collector.add_import(alias.name, alias.asname)
            elif isinstance(node, ast.ImportFrom):
                names = [(a.name, a.asname) for a in node.names]
                # repo_dagger 1.4.0 also tries every word of comments on a from-import line as a submodule
                # (`from pkg import x  # not pkg.y`); doing the same keeps our graph a superset of its one.
                extra = tuple(_comment_words(source, snippet, end))
                collector.add_from(node.level or 0, node.module or "", names, extra)
    if b"pytest_plugins" in source:
        # pytest imports the modules a conftest names in `pytest_plugins = [...]` before any test.
        for match in _RE_PYTEST_PLUGINS.finditer(source):
            for name in _RE_STRING.findall(match.group(1)):
                collector.add_import(name.decode("utf-8", "replace"), None)
    if b"import_module" in source or b"__import__" in source or b"importorskip" in source:
        for match in _RE_DYNAMIC.finditer(source):
            level, module = _split_relative(match.group(1).decode("utf-8", "replace"))
            collector.refs.append((level, module, ()))
    return collector.result(error_line)


# What may stand before `import` on its line for it to start a statement: nothing, `;`/`:` (another
# statement or a compound header), then optionally `from <module>` or the `c` of Cython's `cimport`.
_PREFIX = re.compile(rb"(?:^|[;:])[ \t]*(from\b[ \t\\.\w]*?[ \t\\.]|c)?$", re.MULTILINE)
# One logical line from the keyword on: parenthesised lists and backslash continuations included.
_SPAN = re.compile(rb"(?:\([^)]*\)|\\\r?\n|[^\n;#(])*")
_AFTER_KEYWORD = frozenset(b" \t\\(")


def _statement_spans(source: bytes) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    position = source.find(b"import")
    while position != -1:
        after = source[position + 6 : position + 7]
        if after and after[0] in _AFTER_KEYWORD:
            line_start = source.rfind(b"\n", 0, position) + 1
            match = _PREFIX.search(source, line_start, position)
            if match is not None:
                start = match.start(1) if match.group(1) else position
                span = _SPAN.match(source, start)
                end = span.end() if span is not None else position + 6
                if not spans or spans[-1][1] <= start:
                    spans.append((start, end))
        position = source.find(b"import", position + 6)
    return spans


# The everyday forms, read without the parser: `import a.b [as c], ...` and `from .a import b [as c], ...`.
_ALIAS = rb"[A-Za-z_]\w*(?:[ \t]+as[ \t]+[A-Za-z_]\w*)?"
_DOTTED_ALIAS = rb"[A-Za-z_][\w.]*(?:[ \t]+as[ \t]+[A-Za-z_]\w*)?"
_SIMPLE_IMPORT = re.compile(
    rb"import[ \t]+(%s(?:[ \t]*,[ \t]*%s)*)[ \t]*\r?" % (_DOTTED_ALIAS, _DOTTED_ALIAS)
)
_SIMPLE_FROM = re.compile(
    rb"from[ \t]+(\.*)[ \t]*([A-Za-z_][\w.]*|)[ \t]+import[ \t]+(%s(?:[ \t]*,[ \t]*%s)*|\*)[ \t]*\r?"
    % (_ALIAS, _ALIAS)
)


def _aliases(text: bytes) -> list[tuple[str, Optional[str]]]:
    out: list[tuple[str, Optional[str]]] = []
    for part in text.split(b","):
        words = part.split()
        out.append((words[0].decode(), words[2].decode() if len(words) == 3 else None))
    return out


def _simple(collector: _Collector, snippet: bytes, source: bytes, end: int) -> bool:
    """Read a one-line import without ``ast`` (4x faster); False when the statement needs the parser."""
    if snippet.startswith(b"i"):
        match = _SIMPLE_IMPORT.fullmatch(snippet)
        if match is None:
            return False
        for name, asname in _aliases(match.group(1)):
            if name.endswith(".") or ".." in name:
                return False
            collector.add_import(name, asname)
        return True
    match = _SIMPLE_FROM.fullmatch(snippet)
    if match is None or (not match.group(1) and not match.group(2)):
        return False
    module = match.group(2).decode()
    if module.endswith(".") or ".." in module:
        return False
    names = [] if match.group(3) == b"*" else _aliases(match.group(3))
    extra = tuple(_comment_words(source, b"", end)) if source[end : end + 1] == b"#" else ()
    collector.add_from(len(match.group(1)), module, names, extra)
    return True


def _comment_words(source: bytes, snippet: bytes, end: int) -> list[str]:
    comments = _RE_COMMENT.findall(snippet)
    if source[end : end + 1] == b"#":
        comments.append(source[end : source.find(b"\n", end) if b"\n" in source[end:] else len(source)])
    words: list[str] = []
    for comment in comments:
        words.extend(word.decode() for word in _RE_IDENT.findall(comment))
    return words


def _looks_like_code(source: bytes, start: int) -> bool:
    """False for statements that are surely prose or data: inside a string literal."""
    line = source[source.rfind(b"\n", 0, start) + 1 : start]
    if line.count(b'"') % 2 or line.count(b"'") % 2:
        return False
    before = source[:start]
    return (before.count(b'"""') + before.count(b"'''")) % 2 == 0


def _regex_into(collector: _Collector, snippet: bytes) -> None:
    for match in _RE_FROM.finditer(snippet):
        level, module = _split_relative(match.group(1).decode("utf-8", "replace"))
        idents = [
            i.decode() for i in _RE_IDENT.findall(match.group(2)) if i not in (b"as", b"import", b"cimport")
        ]
        collector.add_from(level, module, [(ident, None) for ident in idents])
    for match in _RE_IMPORT.finditer(snippet):
        for part in match.group(1).split(b","):
            dotted = _RE_DOTTED.match(part.strip().lstrip(b"(").strip())
            if dotted:
                collector.add_import(dotted.group(0).decode().rstrip("."), None)


def regex_scan(source: bytes, error_line: Optional[int] = None) -> ImportScan:
    """A conservative line-based scan for files the AST cannot read (and for Cython sources)."""
    collector = _Collector()
    _regex_into(collector, source)
    for match in _RE_DYNAMIC.finditer(source):
        level, module = _split_relative(match.group(1).decode("utf-8", "replace"))
        collector.refs.append((level, module, ()))
    return collector.result(error_line)
