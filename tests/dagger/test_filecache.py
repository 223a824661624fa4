from __future__ import annotations

import os
import time
from pathlib import Path

from dryci.dagger import analyze, load_config
from dryci.dagger.filecache import FileFacts

CONFIG = """
inputs: "tests/test_*.py"
path_rules:
  "**/*.py":
    visit_imported_python_modules: true
    regex_rules:
      'open_data\\("(\\w+)"\\)':
        visit: "data/$1.txt"
"""


def _age(root: Path) -> None:
    # The cache skips files modified within the last second (their mtime cannot tell later edits apart).
    old = time.time() - 10
    for path in [*root.rglob("*"), root]:
        os.utime(path, (old, old))


def _project(write, tmp_path: Path) -> Path:
    write(
        {
            "repo_dagger.yaml": CONFIG,
            "app/__init__.py": "",
            "app/core.py": 'open_data("x")\n',
            "data/x.txt": "payload",
            "tests/test_core.py": "import app.core\n",
        }
    )
    (tmp_path / ".cache").mkdir()  # as after a first run: the cache folder exists
    _age(tmp_path)
    return tmp_path / "repo_dagger.yaml"


def test_warm_run_reads_no_unchanged_file(write, tmp_path: Path) -> None:
    config = load_config(_project(write, tmp_path))
    cache = tmp_path / ".cache"
    cold = analyze(config, cache_dir=cache)
    warm = analyze(config, cache_dir=cache)
    assert cold.files_read == 4
    assert warm.files_read == 0
    assert warm.hashes == cold.hashes
    assert warm.relations == cold.relations


def test_a_changed_file_is_read_again_and_changes_the_hash(write, tmp_path: Path) -> None:
    config = load_config(_project(write, tmp_path))
    cache = tmp_path / ".cache"
    cold = analyze(config, cache_dir=cache)
    (tmp_path / "data/x.txt").write_text("changed payload", encoding="utf-8")
    warm = analyze(config, cache_dir=cache)
    assert warm.files_read == 1
    assert warm.hashes["tests/test_core.py"] != cold.hashes["tests/test_core.py"]


def test_same_size_edit_within_the_same_second_is_not_missed(write, tmp_path: Path) -> None:
    config = load_config(_project(write, tmp_path))
    cache = tmp_path / ".cache"
    (tmp_path / "data/x.txt").write_text("payloaD", encoding="utf-8")  # fresh mtime: not cached
    first = analyze(config, cache_dir=cache)
    (tmp_path / "data/x.txt").write_text("payloa2", encoding="utf-8")
    second = analyze(config, cache_dir=cache)
    assert first.hashes != second.hashes


def test_corrupt_cache_is_ignored(write, tmp_path: Path) -> None:
    config = load_config(_project(write, tmp_path))
    cache = tmp_path / ".cache"
    expected = analyze(config).hashes
    analyze(config, cache_dir=cache)
    for path in cache.iterdir():
        path.write_bytes(b"\x80\x04garbage")
    result = analyze(config, cache_dir=cache)
    assert result.hashes == expected
    assert result.files_read == 4


def test_cache_of_another_base_dir_is_not_used(write, tmp_path: Path) -> None:
    _project(write, tmp_path)
    facts = FileFacts(tmp_path, tmp_path / ".cache")
    facts.digest("data/x.txt")
    facts.save({}, ("", {}))
    assert FileFacts(tmp_path, tmp_path / ".cache")._old
    assert not FileFacts(tmp_path / "app", tmp_path / ".cache")._old


def test_unwritable_cache_dir_still_analyzes(write, tmp_path: Path) -> None:
    config = load_config(_project(write, tmp_path))
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("", encoding="utf-8")
    assert analyze(config, cache_dir=blocker / "cache").hashes == analyze(config).hashes


def test_warm_run_reuses_relations_while_folders_and_config_are_unchanged(write, tmp_path: Path) -> None:
    config = load_config(_project(write, tmp_path))
    cache = tmp_path / ".cache"
    cold = analyze(config, cache_dir=cache)
    warm = analyze(config, cache_dir=cache)
    assert cold.relations_computed == 4
    assert warm.relations_computed == 0
    assert warm.relations == cold.relations


def test_a_new_file_that_an_import_now_finds_is_seen_by_a_warm_run(write, tmp_path: Path) -> None:
    path = _project(write, tmp_path)
    write({"tests/test_core.py": "import app.core\nimport app.extra\n"})
    _age(tmp_path)
    config = load_config(path)
    cache = tmp_path / ".cache"
    analyze(config, cache_dir=cache)
    (tmp_path / "app" / "extra.py").write_text("", encoding="utf-8")
    # Make the folder look old again, as if the file had been added long ago: only the mtime changes.
    old = time.time() - 5
    os.utime(tmp_path / "app", (old, old))
    os.utime(tmp_path / "app" / "extra.py", (old, old))
    warm = analyze(config, cache_dir=cache)
    assert "app/extra.py" in warm.relations["tests/test_core.py"]
    assert warm.relations_computed == 5


def test_a_changed_config_recomputes_relations(write, tmp_path: Path) -> None:
    path = _project(write, tmp_path)
    cache = tmp_path / ".cache"
    analyze(load_config(path), cache_dir=cache)
    path.write_text(CONFIG + "global_exclude: data/*.txt\n", encoding="utf-8")
    warm = analyze(load_config(path), cache_dir=cache)
    assert warm.relations_computed == 3, "every file again, and data/x.txt is now excluded"
    assert warm.files_read == 0
    assert "data/x.txt" not in warm.relations


def test_reused_hashes_still_follow_salt_inputs_and_content(write, tmp_path: Path) -> None:
    write({"tests/test_other.py": ""})
    config = load_config(_project(write, tmp_path))
    cache = tmp_path / ".cache"
    expected = {
        (salt, inputs): dict(analyze(config, salt=salt, input_files=inputs).hashes)
        for salt in ("", "s")
        for inputs in (None, ("tests/test_other.py",))
    }
    for _ in range(2):  # the second round runs from a warm cache
        for (salt, inputs), hashes in expected.items():
            assert analyze(config, salt=salt, input_files=inputs, cache_dir=cache).hashes == hashes
    (tmp_path / "data/x.txt").write_text("other payload", encoding="utf-8")
    changed = analyze(config, cache_dir=cache).hashes
    assert changed["tests/test_core.py"] != expected[("", None)]["tests/test_core.py"]
    assert changed["tests/test_other.py"] == expected[("", None)]["tests/test_other.py"]


def test_warnings_of_a_file_are_repeated_by_warm_runs(write, tmp_path: Path) -> None:
    path = _project(write, tmp_path)
    write({"app/core.py": 'open_data("x")\nfrom app import (broken,\n'})
    _age(tmp_path)
    config = load_config(path)
    cache = tmp_path / ".cache"
    cold = analyze(config, cache_dir=cache)
    warm = analyze(config, cache_dir=cache)
    assert warm.relations_computed == 0
    assert (
        cold.warnings
        == warm.warnings
        == ("app/core.py: syntax error at line 2; used a conservative import scan",)
    )
