"""The ``inputs`` key: which files get a dependency hash, and a warning for a glob that finds none."""

from __future__ import annotations

from pathlib import Path


def test_an_inputs_glob_matching_nothing_warns_naming_the_key(write, run, tmp_path: Path) -> None:
    write({"tests/test_a.py": ""})
    analysis = run('inputs: ["tests/test_*.py", "test/**/test_*.py"]\n')
    assert sorted(analysis.hashes) == ["tests/test_a.py"]
    assert analysis.warnings == (f"inputs: 'test/**/test_*.py' matches no file under {tmp_path}",)


def test_inputs_globs_that_all_match_warn_about_nothing(write, run) -> None:
    write({"tests/test_a.py": "", "tests/unit/test_b.py": ""})
    analysis = run('inputs: ["tests/test_*.py", "tests/**/test_*.py"]\n')
    assert sorted(analysis.hashes) == ["tests/test_a.py", "tests/unit/test_b.py"]
    assert analysis.warnings == ()
