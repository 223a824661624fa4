"""The pure parts of the plugin, without pytester: selection, reporting, provenance."""

from __future__ import annotations

import pytest

from dryci.plugin.outcome import RunCounts
from dryci.plugin.report import explain_file, format_seconds, format_summary
from dryci.plugin.settings import parse_canary, provenance_from_env
from dryci.protocol import FileEntry, Provenance, entry_tag, hash_node_id, key_for
from dryci.selection.files import FilePlan, Plan, TestResult, entries_to_publish, in_canary, make_plan

H_A = "a" * 64
H_B = "b" * 64


def wire_id(h: str, path: str, name: str) -> str:
    return hash_node_id(h, f"{path}::{name}")


def plan_with(passed: list[str], count: int | None, *, tagged: bool = True) -> Plan:
    tests = {wire_id(H_A, "t/test_a.py", n): 1.0 for n in passed}
    tag = entry_tag(H_A, count, tests) if tagged and count is not None else None
    return make_plan({"t/test_a.py": H_A}, [FileEntry(tests, count, tag=tag)])


def test_a_test_is_cached_when_its_id_under_the_current_hash_passed() -> None:
    file_plan = plan_with(["test_x"], None).files["t/test_a.py"]
    assert file_plan.is_cached("test_x")
    assert not file_plan.is_cached("test_y")
    assert file_plan.key == key_for(H_A)


def test_a_file_is_skipped_at_collection_only_when_every_test_it_produced_passed() -> None:
    assert plan_with(["x", "y"], 2).shortcut_files() == {"t/test_a.py"}
    assert plan_with(["x"], 2).shortcut_files() == frozenset()
    assert plan_with(["x", "y"], None).shortcut_files() == frozenset()
    assert plan_with([], 0).shortcut_files() == frozenset()


def test_a_file_is_skipped_at_collection_only_when_its_tag_verifies_under_its_hash() -> None:
    assert plan_with(["x", "y"], 2, tagged=False).shortcut_files() == frozenset()
    tests = {wire_id(H_A, "t/test_a.py", n): 1.0 for n in ("x", "y")}
    forged = FileEntry(tests, 2, tag="0" * 32)
    assert make_plan({"t/test_a.py": H_A}, [forged]).shortcut_files() == frozenset()
    # A real entry replayed under another file's key: its tag was made with another hash.
    real = FileEntry(tests, 2, tag=entry_tag(H_A, 2, tests))
    assert make_plan({"t/test_b.py": H_B}, [real]).shortcut_files() == frozenset()
    # An id swapped, added or dropped breaks the tag.
    swapped = dict(tests)
    swapped.popitem()
    swapped["f" * 32] = 1.0
    assert not FileEntry(swapped, 2, tag=real.tag).verified(H_A)
    assert not FileEntry({**tests, "f" * 32: 1.0}, 3, tag=real.tag).verified(H_A)
    assert real.verified(H_A)


def test_a_forged_count_without_a_tag_is_a_claim_but_no_shortcut() -> None:
    file_plan = make_plan({"t/test_a.py": H_A}, [FileEntry({"1" * 32: 1.0, "2" * 32: 1.0}, 2)]).files[
        "t/test_a.py"
    ]
    assert file_plan.claimed and not file_plan.fully_cached


def test_files_named_by_node_ids_or_picked_by_the_canary_are_collected() -> None:
    plan = plan_with(["x", "y"], 2)
    assert plan.shortcut_files(exclude=["t/test_a.py"]) == frozenset()
    assert plan.shortcut_files(canary_seed="s", canary=1.0) == frozenset()


def test_without_store_entries_nothing_is_skipped() -> None:
    plan = make_plan({"t/test_a.py": H_A}, None)
    assert not plan.skip
    assert plan.shortcut_files() == frozenset()


def test_entries_must_match_the_hashes() -> None:
    with pytest.raises(ValueError, match="expected 1 entries, got 2"):
        make_plan({"t/test_a.py": H_A}, [FileEntry(), FileEntry()])


def test_the_publisher_tags_a_file_whose_tests_all_passed_now_or_were_cached() -> None:
    plan = make_plan({"t/test_a.py": H_A}, [FileEntry({wire_id(H_A, "t/test_a.py", "old"): 1.0})])
    results = [
        TestResult("t/test_a.py", "old", passed=False, seconds=0.0, cached=True),
        TestResult("t/test_a.py", "new", passed=True, seconds=0.5),
    ]
    (entry,) = entries_to_publish(plan, results, {"t/test_a.py": 2}).values()
    assert entry.tests == {wire_id(H_A, "t/test_a.py", "new"): 0.5}
    ids = {wire_id(H_A, "t/test_a.py", n) for n in ("old", "new")}
    assert entry.tag == entry_tag(H_A, 2, ids)
    # One test short of the count: no tag, so no reader will skip the whole file.
    (partial,) = entries_to_publish(plan, results[1:], {"t/test_a.py": 2}).values()
    assert partial.tag is None


def test_only_passed_tests_of_analyzed_files_are_published_with_known_counts() -> None:
    plan = make_plan({"t/test_a.py": H_A, "t/test_b.py": H_B}, None)
    results = [
        TestResult("t/test_a.py", "test_ok", True, 0.25),
        TestResult("t/test_a.py", "test_bad", False, 1.0),
        TestResult("t/test_b.py", "test_ok", True, 0.5),
        TestResult("elsewhere.py", "test_ok", True, 0.5),
    ]
    entries = entries_to_publish(plan, results, {"t/test_a.py": 2})
    assert entries == {
        key_for(H_A): FileEntry({wire_id(H_A, "t/test_a.py", "test_ok"): 0.25}, 2),
        key_for(H_B): FileEntry({wire_id(H_B, "t/test_b.py", "test_ok"): 0.5}, None),
    }


def test_the_canary_sample_is_deterministic_and_roughly_the_fraction() -> None:
    ids = [hash_node_id(H_A, str(i)) for i in range(2000)]
    picked = [i for i in ids if in_canary("seed", i, 0.1)]
    assert picked == [i for i in ids if in_canary("seed", i, 0.1)]
    assert 100 < len(picked) < 300
    assert not any(in_canary("seed", i, 0.0) for i in ids)
    assert all(in_canary("seed", i, 1.0) for i in ids)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.04, "~0.0s"), (3.26, "~3.3s"), (42.4, "~42s"), (372, "~6m 12s"), (3725, "~1h 02m")],
)
def test_time_saved_is_shown_coarsely(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text


def test_the_summary_line_reads_like_the_issue_example() -> None:
    assert (
        format_summary(RunCounts(cached=1204, seconds_saved=372, ran=106, files_changed=3))
        == "dryci: 1,204 of 1,310 tests cached, ~6m 12s saved; 106 ran (3 files changed)"
    )
    assert (
        format_summary(RunCounts(1, 0, 1, 0, files_with_new_or_failed=1, files_not_analyzed=2))
        == "dryci: 1 of 2 tests cached, ~0.0s saved; 1 ran"
        " (1 file with new, failed or skipped tests, 2 files not analyzed)"
    )


def test_explain_names_changed_added_and_removed_dependencies() -> None:
    file_plan = FilePlan("t/test_a.py", H_B)
    reason = explain_file(
        file_plan,
        H_A,
        {"t/test_a.py": "1", "src/x.py": "2", "src/gone.py": "3"},
        {"t/test_a.py": "1", "src/x.py": "9", "src/new.py": "4"},
        [],
    )
    assert (
        reason == "since the cached pass, changed: src/x.py; new dependencies: src/new.py;"
        " no longer depends on: src/gone.py"
    )


def test_explain_covers_files_without_history_and_outside_the_inputs() -> None:
    assert explain_file(FilePlan("t/a.py", H_A), None, None, {}, []) == "no cached results for it yet"
    assert explain_file(None, None, None, {}, []) == "not among the analyzed inputs, so it always runs"
    unchanged = explain_file(FilePlan("t/a.py", H_B), H_A, {"t/a.py": "1"}, {"t/a.py": "1"}, [])
    assert "config, salt or environment changed" in unchanged
    with_entry = FilePlan("t/a.py", H_A, {"0" * 32: 1.0}, 3)
    assert (
        explain_file(with_entry, None, None, {}, ["b", "a"])
        == "2 tests new, or failed or skipped last time: a, b"
    )


def test_a_canary_fraction_parses_from_zero_to_one() -> None:
    assert parse_canary("0.02") == 0.02
    assert parse_canary("1") == 1.0
    with pytest.raises(pytest.UsageError, match="--dryci-canary"):
        parse_canary("2")


def test_provenance_comes_from_github_gitlab_or_generic_ci() -> None:
    github = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_HEAD_REF": "feature",
        "GITHUB_REF_NAME": "12/merge",
        "GITHUB_SHA": "abc",
        "GITHUB_SERVER_URL": "https://ghe.example",
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_RUN_ID": "7",
    }
    assert provenance_from_env(github) == Provenance(
        "feature", "abc", "https://ghe.example/o/r/actions/runs/7"
    )
    gitlab = {
        "GITLAB_CI": "true",
        "CI": "true",
        "CI_COMMIT_REF_NAME": "main",
        "CI_COMMIT_SHA": "def",
        "CI_JOB_URL": "https://gitlab.example/j/1",
    }
    assert provenance_from_env(gitlab) == Provenance("main", "def", "https://gitlab.example/j/1")
    generic = {"CI": "1", "GIT_BRANCH": "dev", "GIT_COMMIT": "123", "BUILD_URL": "https://ci.example/b/9"}
    assert provenance_from_env(generic) == Provenance("dev", "123", "https://ci.example/b/9")
    assert provenance_from_env({}) == Provenance()
