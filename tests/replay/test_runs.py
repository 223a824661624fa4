"""What one pytest run did: the plugin's summary line and the JUnit XML, from real runs."""

from __future__ import annotations

import os
from pathlib import Path

from dryci.replay.runs import Summary, child_env, parse_junit, parse_summary, run_pytest


def test_the_summary_line_gives_cached_total_saved_and_ran() -> None:
    output = (
        "....\ndryci: 1,204 of 1,310 tests cached (1,100 at function level), ~6m 12s saved; "
        "106 ran (3 files changed)\n"
    )
    assert parse_summary(output) == Summary(cached=1204, total=1310, seconds_saved=372.0, ran=106)
    assert parse_summary("dryci: 0 of 1 test cached, ~0.0s saved; 1 ran") == Summary(0, 1, 0.0, 1)
    assert parse_summary("dryci: 9 of 9 tests cached, ~1h 05m saved; 0 ran") == Summary(9, 9, 3900.0, 0)


def test_a_run_without_the_summary_line_has_none() -> None:
    assert parse_summary("3 passed in 0.1s\n") is None


def test_a_missing_or_broken_junit_file_is_no_tests(tmp_path: Path) -> None:
    assert parse_junit(tmp_path / "absent.xml") == {}
    (tmp_path / "broken.xml").write_text("<testsuites><testcase")
    assert parse_junit(tmp_path / "broken.xml") == {}


def test_outcomes_are_read_per_test_with_their_file(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_some.py").write_text(
        "import pytest\n\n\ndef test_ok():\n    pass\n\n\ndef test_bad():\n    assert False\n\n\n"
        "class TestGroup:\n    @pytest.mark.skip(reason='not today')\n"
        "    def test_later(self):\n        pass\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRYCI_")}
    run = run_pytest(tmp_path, ["-p", "no:cacheprovider"], tmp_path / "junit.xml", child_env(tmp_path, env))
    assert run.exit_code == 1
    assert {test: o.outcome for test, o in run.outcomes.items()} == {
        "tests/test_some.py::test_ok": "passed",
        "tests/test_some.py::test_bad": "failed",
        "tests/test_some.py::TestGroup::test_later": "skipped",
    }
    assert run.files() == {"tests/test_some.py"}
    assert run.summary is None


def test_the_worktree_and_its_src_come_first_on_the_import_path(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    env = child_env(tmp_path, {"PYTHONPATH": "/elsewhere", "DRYCI_SERVER": "http://ci", "DRYCI_SALT": "s"})
    assert env["PYTHONPATH"] == os.pathsep.join([str(tmp_path / "src"), str(tmp_path), "/elsewhere"])
    assert "DRYCI_SERVER" not in env  # a replay never publishes to a real server
    assert env["DRYCI_SALT"] == "s"
