"""DryCI's lines in pytest's session header: config, store, level, test files analyzed and fully cached."""

from __future__ import annotations

import pytest

from dryci.plugin.report import INFERRED_CONFIG, HeaderState, header_lines


def test_the_header_names_the_config_and_store_and_counts_the_files() -> None:
    state = HeaderState("repo_dagger.yaml", ".pytest_cache/d/dryci (local)", "file", 1310, 1204)
    assert header_lines(state) == [
        "dryci config: repo_dagger.yaml; store: .pytest_cache/d/dryci (local); level: file",
        "dryci test files: 1,310 analyzed, 1,204 fully cached",
    ]


def test_an_inferred_config_is_said_in_the_header() -> None:
    state = HeaderState(None, "https://cache.example (shared)", "function", 1, 0)
    assert header_lines(state) == [
        f"dryci config: {INFERRED_CONFIG}; store: https://cache.example (shared); level: function",
        "dryci test files: 1 analyzed, 0 fully cached",
    ]


def test_the_session_header_says_how_many_files_the_second_run_leaves_unimported(
    project: pytest.Pytester,
) -> None:
    first = project.runpytest("--dryci")
    lines = first.stdout.lines
    header = lines[: lines.index("rootdir: " + str(project.path))]
    assert header[-2:] == [
        "dryci config: repo_dagger.yaml; store: .pytest_cache/d/dryci (local); level: file",
        "dryci test files: 4 analyzed, 0 fully cached",
    ]
    second = project.runpytest("--dryci")
    assert "dryci test files: 4 analyzed, 4 fully cached" in second.stdout.lines


def test_the_header_says_when_the_config_is_inferred_before_any_test_runs(project: pytest.Pytester) -> None:
    (project.path / "repo_dagger.yaml").unlink()
    result = project.runpytest("--dryci")
    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if "test session starts" in line)
    header = lines[start : lines.index("rootdir: " + str(project.path))]
    assert f"dryci config: {INFERRED_CONFIG}; store: .pytest_cache/d/dryci (local); level: file" in header


def test_a_shared_store_is_named_in_the_header(project: pytest.Pytester, env: pytest.MonkeyPatch) -> None:
    # Nothing listens on port 9: the query fails, the header still says which store this run uses.
    env.setenv("DRYCI_SERVER", "http://127.0.0.1:9")
    env.setenv("DRYCI_TIMEOUT", "1")
    result = project.runpytest("--dryci", "--dryci-no-publish")
    line = "dryci config: repo_dagger.yaml; store: http://127.0.0.1:9 (shared); level: file"
    assert line in result.stdout.lines


def test_without_dryci_the_header_has_no_dryci_line(project: pytest.Pytester) -> None:
    result = project.runpytest()
    assert not [line for line in result.stdout.lines if line.startswith("dryci")]
