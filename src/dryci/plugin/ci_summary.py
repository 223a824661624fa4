"""The GitHub Actions job summary: what DryCI did in this run, as markdown on the run's page.

GitHub gives each step a file named by ``GITHUB_STEP_SUMMARY``; markdown appended to it is shown on
the workflow run's summary page. DryCI appends the tests cached, the time saved and the test files
that ran, each with the reason the cache did not cover it. ``summary_markdown`` is a pure function of
the run's counts and explanations; ``write_summary`` hands it to any writer; ``github_step_summary``
is the one call the session makes at its end.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Callable

from dryci.plugin.outcome import RunCounts, RunOutcome
from dryci.plugin.report import Explanation, format_seconds, format_shadow
from dryci.selection.shadow import ShadowSummary

__all__ = [
    "MAX_FILES",
    "SUMMARY_ENV",
    "github_step_summary",
    "shadow_markdown",
    "summary_markdown",
    "write_summary",
]

SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
# GitHub caps one step's summary at 1 MiB; a run that re-ran thousands of files needs no row for each.
MAX_FILES = 100
MAX_TESTS_PER_FILE = 5


def _cell(text: str) -> str:
    """Text safe in a markdown table cell: a ``|`` would end the cell, a newline the row."""
    return " ".join(text.split()).replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{_cell(text).replace('`', '')}`"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def summary_markdown(counts: RunCounts, explained: Sequence[Explanation]) -> str:
    """The markdown of one run's summary: a heading line, a table of counts, the files that ran."""
    total = counts.cached + counts.ran
    saved = format_seconds(counts.seconds_saved)
    lines = [
        f"### DryCI: {counts.cached:,} of {_plural(total, 'test')} cached, {saved} saved",
        "",
        "| | |",
        "| --- | --- |",
        f"| tests cached | {counts.cached:,}"
        + (f" ({counts.cached_by_function:,} at function level)" if counts.cached_by_function else "")
        + " |",
        f"| tests that ran | {counts.ran:,} |",
        f"| time saved (their earlier durations) | {saved} |",
        "",
    ]
    if not explained:
        lines += ["Every test was cached: no test file ran." if total else "No test ran.", ""]
        return "\n".join(lines) + "\n"
    ran_files = _plural(len(explained), "test file")
    lines += [
        f"<details{' open' if len(explained) <= 10 else ''}><summary>{ran_files} ran</summary>",
        "",
        "| test file | tests | why it ran |",
        "| --- | ---: | --- |",
    ]
    for item in explained[:MAX_FILES]:
        why = _cell(item.reason)
        tests = [f"{_code(name)}: {_cell(reason)}" for name, reason in item.tests[:MAX_TESTS_PER_FILE]]
        if len(item.tests) > MAX_TESTS_PER_FILE:
            tests.append(f"and {len(item.tests) - MAX_TESTS_PER_FILE:,} more")
        if tests:
            why += "<br>" + "<br>".join(tests)
        lines.append(f"| {_code(item.path)} | {item.ran:,} | {why} |")
    if len(explained) > MAX_FILES:
        lines.append(f"| and {len(explained) - MAX_FILES:,} more files | | |")
    lines += ["", "</details>", ""]
    return "\n".join(lines) + "\n"


def shadow_markdown(shadow: ShadowSummary) -> str:
    """A shadow run's summary: its one line as the heading, then every missed failure with its reason."""
    heading = format_shadow(shadow).removeprefix("dryci shadow: ")
    lines = [f"### DryCI shadow: {heading}", ""]
    if shadow.missed:
        lines += [
            "**Missed failures**: tests the cache would have skipped that failed (a stale or forged entry,"
            " a missing dependency rule, or a DryCI bug).",
            "",
            "| test | why the cache would have skipped it |",
            "| --- | --- |",
        ]
        lines += [f"| {_code(nodeid)} | {_cell(why.reason)} |" for nodeid, why in shadow.missed[:MAX_FILES]]
        if len(shadow.missed) > MAX_FILES:
            lines.append(f"| and {len(shadow.missed) - MAX_FILES:,} more | |")
        lines.append("")
    return "\n".join(lines) + "\n"


def write_summary(
    outcome: RunOutcome,
    explained: Sequence[Explanation],
    write: Callable[[str], Any],
    shadow: ShadowSummary | None = None,
) -> None:
    """Write the summary of ``outcome`` through ``write`` (a file's write, a list's append); a shadow
    run's says what the cache would have done instead (every test ran: there is no "why it ran")."""
    write(
        shadow_markdown(shadow) if shadow is not None else summary_markdown(RunCounts.of(outcome), explained)
    )


def github_step_summary(
    outcome: RunOutcome,
    explain: Callable[[], Sequence[Explanation]],
    environ: Mapping[str, str] = os.environ,
    shadow: Callable[[], ShadowSummary] | None = None,
) -> list[str]:
    """Append the summary to ``$GITHUB_STEP_SUMMARY`` when it is set; the lines to say at the end of the
    run (one when the file cannot be written, which never fails the run).

    ``explain`` is called only when there is a summary to write: the reasons read the local store.
    """
    path = environ.get(SUMMARY_ENV)
    if not path:
        return []
    try:
        with open(path, "a", encoding="utf-8") as summary:
            if shadow is not None:
                write_summary(outcome, [], summary.write, shadow())
            else:
                write_summary(outcome, explain(), summary.write)
    except OSError as exc:
        return [f"dryci: could not write the job summary to {path}: {exc.strerror or exc}"]
    return []
