"""Shadow mode's pure part: what the real run would have skipped, and the summary over a run."""

from __future__ import annotations

from dryci.protocol import FileEntry, entry_tag, hash_node_id, key_for
from dryci.selection.decision import Level
from dryci.selection.files import make_plan
from dryci.selection.plan import Selection
from dryci.selection.shadow import WouldSkip, shadow_summary, would_skip

H = "c" * 64
PATH = "t/test_a.py"


def selection(passed: dict[str, float], count: int | None, *, skip: bool = True) -> Selection:
    tests = {hash_node_id(H, f"{PATH}::{name}"): seconds for name, seconds in passed.items()}
    tag = entry_tag(H, count, tests) if count is not None else None
    return Selection(make_plan({PATH: H}, [FileEntry(tests, count, tag=tag)], skip=skip))


def test_a_test_that_passed_under_the_same_hash_would_be_skipped_naming_its_entry() -> None:
    would = would_skip(selection({"test_x": 1.5}, None), PATH, "test_x", whole_file=False)
    assert would == WouldSkip(
        f"passed under the same dependency hash (file level, entry {key_for(H)[:16]})", Level.FILE, 1.5
    )


def test_a_test_the_entry_does_not_hold_would_run() -> None:
    assert would_skip(selection({"test_x": 1.0}, None), PATH, "test_y", whole_file=False) is None


def test_a_new_test_in_a_file_left_uncollected_would_be_skipped_with_its_file() -> None:
    would = would_skip(selection({"test_x": 1.0}, 1), PATH, "test_new", whole_file=True)
    assert would is not None and would.level is Level.FILE
    assert would.reason == f"its file's entry {key_for(H)[:16]} verified, so the file was not imported"


def test_nothing_would_be_skipped_when_the_store_gave_no_answer() -> None:
    assert would_skip(selection({"test_x": 1.0}, 1, skip=False), PATH, "test_x", whole_file=True) is None
    assert would_skip(selection({}, None), "t/not_analyzed.py", "test_x", whole_file=False) is None


def test_the_summary_counts_only_tests_that_ran_and_lists_the_failed_ones() -> None:
    would = {
        "a::one": WouldSkip("r1", Level.FILE, 1.0),
        "a::two": WouldSkip("r2", Level.FUNCTION, 2.0),
        "a::deselected": WouldSkip("r3", Level.FILE, 4.0),
    }
    summary = shadow_summary(would, ["a::one", "a::two", "a::three"], lambda n: n in {"a::two", "a::three"})
    assert (summary.total, summary.would_skip, summary.seconds) == (3, 2, 3.0)
    assert summary.missed == (("a::two", would["a::two"]),)
