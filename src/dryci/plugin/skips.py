"""The pytest side of cached skips: is this skipped or xfailed test's outcome decided by the key?

Only public pytest API: the item's marks and the report. The source-level check is
``dryci.selection.skips``.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import pytest

from dryci.plugin.results import skip_reason
from dryci.selection.skips import MARK_NAMES, Resolve, module_skip_is_cacheable, static_marks

__all__ = ["cacheable_module_skip", "cacheable_outcome"]


@functools.lru_cache(maxsize=256)
def _source(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _class_names(item: pytest.Item) -> list[str]:
    names = []
    node = item.parent
    while node is not None and isinstance(node, pytest.Class):
        names.append(node.name)
        node = node.parent
    return names[::-1]


def _marks_shown(item: pytest.Item, resolve: Resolve | None) -> bool:
    """Every skip/skipif/xfail mark of the item is written in its test file, with a safe condition."""
    if not isinstance(item, pytest.Function):
        return False
    source = _source(Path(item.path))
    if source is None:
        return False
    found = static_marks(source, _class_names(item), item.originalname, resolve)
    if found is None or not all(mark.safe for mark in found):
        return False
    runtime = sorted(mark.name for mark in item.iter_markers() if mark.name in MARK_NAMES)
    # A mark from elsewhere (a conftest hook, parametrize marks, a plugin) is one the source does not show.
    return runtime == sorted(mark.name for mark in found)


def _mark_reasons(item: pytest.Item, name: str) -> set[str]:
    reasons = set()
    for mark in item.iter_markers(name):
        reason = mark.kwargs.get("reason", mark.args[1] if name != "skip" and len(mark.args) > 1 else None)
        if name == "skip" and reason is None:
            reason = mark.args[0] if mark.args else "unconditional skip"
        reasons.add(str(reason or ""))
    return reasons


def cacheable_outcome(item: pytest.Item, report: pytest.TestReport, resolve: Resolve | None = None) -> bool:
    """The report is a skip by a skip/skipif mark, or an xfail by an xfail mark, that the key decides.

    The reason must be one of the marks' own, so a ``pytest.skip()`` in a fixture or in the test never
    counts; nor does an xpass, which the next run may not repeat. ``resolve``: the source of a
    project module in the test file's closure (a condition may use a name imported from it).
    """
    if not report.skipped:
        return False
    if hasattr(report, "wasxfail"):
        reason = str(report.wasxfail)
        expected = _mark_reasons(item, "xfail")
        matched = bool(expected) and (reason in expected or reason.removeprefix("reason: ") in expected)
        return matched and _marks_shown(item, resolve)
    if report.when != "setup":
        return False
    reason = skip_reason(report).removeprefix("Skipped: ")
    expected = _mark_reasons(item, "skip") | _mark_reasons(item, "skipif")
    return reason in expected and _marks_shown(item, resolve)


def closure_sources(closure: frozenset[str], base_dir: Path) -> Resolve:
    """A :data:`Resolve` for one test file: an imported module's source when its file (as imported
    in this process) is in the file's closure, so its content is in the key."""

    def resolve(module: str) -> str | None:
        file = getattr(sys.modules.get(module), "__file__", None)
        if not file:
            return None
        try:
            relative = Path(file).resolve().relative_to(base_dir.resolve()).as_posix()
        except ValueError:
            return None
        return _source(base_dir / relative) if relative in closure else None

    return resolve


def cacheable_module_skip(report: pytest.CollectReport, path: Path) -> bool:
    """A test module skipped at import by a module-level ``pytest.importorskip``: installed
    distributions decide it, and they are in the key."""
    if not report.skipped or not isinstance(report.longrepr, tuple):
        return False
    if not str(report.longrepr[2]).startswith("Skipped: could not import"):
        return False
    source = _source(path)
    return source is not None and module_skip_is_cacheable(source)
