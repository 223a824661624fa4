"""The GitLab view: what the GitHub job summary says, as one testcase of the JUnit report.

GitLab's test report lists testcases only: their classname, name, file, time, status and, for a
failed, errored or skipped one, that element's text. It ignores a testsuite's name, properties and
``system-out`` (its parser, ``lib/gitlab/ci/parsers/test/junit.rb``, reads nothing else). So under
GitLab CI (``GITLAB_CI`` set) and with ``--junitxml``, the run's summary becomes one skipped testcase
of classname ``dryci``, named by the summary's first line (the list shows it) and whose text is the
whole summary in plain text (the test's details show it). The counts also go into the testsuite's
properties, for the tools that read them. Pytest's own counts and exit status stay what they were.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Callable

import pytest

from dryci.plugin.cached import CachedCase, add_to_junit
from dryci.plugin.ci_summary import MAX_FILES, MAX_TESTS_PER_FILE
from dryci.plugin.outcome import RunCounts
from dryci.plugin.report import Explanation, format_seconds, format_shadow
from dryci.selection.shadow import ShadowSummary

__all__ = ["GITLAB_ENV", "gitlab_junit_summary", "shadow_text", "summary_text"]

GITLAB_ENV = "GITLAB_CI"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _headline(counts: RunCounts) -> str:
    saved = format_seconds(counts.seconds_saved)
    return f"DryCI: {counts.cached:,} of {_plural(counts.cached + counts.ran, 'test')} cached, {saved} saved"


def summary_text(counts: RunCounts, explained: Sequence[Explanation]) -> str:
    """The plain-text summary: the headline, the counts, then each test file that ran and why."""
    by_function = f" ({counts.cached_by_function:,} at function level)" if counts.cached_by_function else ""
    lines = [
        _headline(counts),
        f"tests cached: {counts.cached:,}{by_function}",
        f"tests that ran: {counts.ran:,}",
        f"time saved (their earlier durations): {format_seconds(counts.seconds_saved)}",
    ]
    if not explained:
        ran_none = "Every test was cached: no test file ran." if counts.cached else "No test ran."
        lines.append(ran_none)
        return "\n".join(lines) + "\n"
    lines.append(f"{_plural(len(explained), 'test file')} ran:")
    for item in explained[:MAX_FILES]:
        lines.append(f"  {item.path} ({_plural(item.ran, 'test')}): {item.reason}")
        lines += [f"    {name}: {reason}" for name, reason in item.tests[:MAX_TESTS_PER_FILE]]
        if len(item.tests) > MAX_TESTS_PER_FILE:
            lines.append(f"    and {len(item.tests) - MAX_TESTS_PER_FILE:,} more")
    if len(explained) > MAX_FILES:
        lines.append(f"  and {len(explained) - MAX_FILES:,} more files")
    return "\n".join(lines) + "\n"


def shadow_text(shadow: ShadowSummary) -> str:
    """A shadow run's summary: its one line, then every missed failure with its reason."""
    lines = ["DryCI shadow: " + format_shadow(shadow).removeprefix("dryci shadow: ")]
    if shadow.missed:
        lines.append("Missed failures (tests the cache would have skipped that failed):")
        lines += [f"  {nodeid}: {why.reason}" for nodeid, why in shadow.missed[:MAX_FILES]]
        if len(shadow.missed) > MAX_FILES:
            lines.append(f"  and {len(shadow.missed) - MAX_FILES:,} more")
    return "\n".join(lines) + "\n"


def _properties(counts: RunCounts) -> dict[str, Any]:
    return {
        "dryci_tests_cached": counts.cached,
        "dryci_tests_ran": counts.ran,
        "dryci_seconds_saved": round(counts.seconds_saved, 3),
    }


def gitlab_junit_summary(
    config: pytest.Config,
    counts: RunCounts,
    explain: Callable[[], Sequence[Explanation]],
    shadow: Callable[[], ShadowSummary] | None = None,
    environ: Mapping[str, str] = os.environ,
) -> bool:
    """Add the summary testcase (and the testsuite properties) to pytest's JUnit report under GitLab
    CI; True when they were. ``explain`` is called only then: the reasons read the local store."""
    if not environ.get(GITLAB_ENV):
        return False
    if shadow is not None:
        summary = shadow()
        text, name = shadow_text(summary), shadow_text(summary).splitlines()[0]
    else:
        text = summary_text(counts, explain())
        name = text.splitlines()[0]
    # The name is the node id's last part: a "::" in it would move text into the classname.
    case = CachedCase(f"dryci::{name.replace('::', ': ')}", "dryci", text)
    return add_to_junit(config, [case], _properties(counts))
