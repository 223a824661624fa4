from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dryci.dagger import analyze, environment_salt, load_config
from dryci.dagger.graph import closure, shortest_chain, strongly_connected_components
from dryci.dagger.hashing import component_hashes

CONFIG = """
inputs: "tests/test_*.py"
global_deps: lock.txt
path_rules:
  "**/*.py":
    visit_imported_python_modules: true
"""

TREE = {
    "lock.txt": "v1",
    "app/__init__.py": "",
    "app/a.py": "from . import b\n",
    "app/b.py": "from . import a\n",  # a cycle
    "app/c.py": "import app.a\n",
    "app/lonely.py": "",
    "tests/test_a.py": "import app.a\n",
    "tests/test_c.py": "import app.c\n",
    "tests/test_lonely.py": "import app.lonely\n",
}


@pytest.fixture
def tree(write) -> Path:
    return write(TREE)


def test_every_input_gets_a_64_hex_hash(tree: Path, run) -> None:
    analysis = run(CONFIG)
    assert set(analysis.hashes) == {"tests/test_a.py", "tests/test_c.py", "tests/test_lonely.py"}
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in analysis.hashes.values())
    assert len(set(analysis.hashes.values())) == 3, "the test path is part of the hash"


def test_changing_a_dependency_changes_only_the_tests_that_depend_on_it(tree: Path, run) -> None:
    before = run(CONFIG).hashes
    (tree / "app/b.py").write_text("from . import a\nX = 1\n", encoding="utf-8")
    after = run(CONFIG).hashes
    assert after["tests/test_a.py"] != before["tests/test_a.py"]
    assert after["tests/test_c.py"] != before["tests/test_c.py"]
    assert after["tests/test_lonely.py"] == before["tests/test_lonely.py"]


def test_global_deps_config_and_salt_change_every_hash(tree: Path, run) -> None:
    before = run(CONFIG).hashes
    (tree / "lock.txt").write_text("v2", encoding="utf-8")
    after_lock = run(CONFIG).hashes
    after_config = run(CONFIG + "# a comment\n").hashes
    after_salt = run(CONFIG + "# a comment\n", salt="other").hashes
    for test in before:
        assert len({before[test], after_lock[test], after_config[test], after_salt[test]}) == 4


def test_a_new_file_that_an_import_now_resolves_to_changes_the_hash(tree: Path, run) -> None:
    (tree / "tests/test_lonely.py").write_text("import app.lonely\nimport app.fresh\n", encoding="utf-8")
    before = run(CONFIG).hashes["tests/test_lonely.py"]
    (tree / "app/fresh.py").write_text("", encoding="utf-8")
    assert run(CONFIG).hashes["tests/test_lonely.py"] != before


def test_closure_and_why_follow_the_graph(tree: Path, run) -> None:
    analysis = run(CONFIG)
    assert analysis.closure("tests/test_c.py") == {
        "tests/test_c.py",
        "app/__init__.py",
        "app/a.py",
        "app/b.py",
        "app/c.py",
        "lock.txt",
    }
    assert analysis.why("tests/test_c.py", "app/b.py") == [
        "tests/test_c.py",
        "app/c.py",
        "app/a.py",
        "app/b.py",
    ]
    assert analysis.why("tests/test_lonely.py", "app/b.py") is None
    with pytest.raises(KeyError):
        analysis.closure("nope.py")


def test_file_digest_is_the_sha256_of_the_content(tree: Path, run) -> None:
    import hashlib

    assert run(CONFIG).file_digest("lock.txt") == hashlib.sha256(b"v1").hexdigest()


def test_merkle_hash_matches_a_direct_closure_hash_in_sensitivity() -> None:
    # Every file in the closure, and nothing outside it, affects a component's hash.
    edges = {"t": ["a"], "a": ["b"], "b": ["a", "c"], "c": [], "x": []}
    digests = {name: name * 64 for name in ("a", "b", "c")} | {"t": "1" * 64, "x": "2" * 64}
    hashes, component_of = component_hashes(edges, digests)
    base = hashes[component_of["t"]]
    for changed in ("a", "b", "c"):
        other, other_of = component_hashes(edges, {**digests, changed: "f" * 64})
        assert other[other_of["t"]] != base, changed
    unrelated, unrelated_of = component_hashes(edges, {**digests, "x": "f" * 64})
    assert unrelated[unrelated_of["t"]] == base


def test_strongly_connected_components_come_dependencies_first() -> None:
    edges = {"t": ["a"], "a": ["b"], "b": ["a", "c"], "c": ["c"]}
    components, component_of = strongly_connected_components(edges)
    assert sorted(map(tuple, components)) == [("a", "b"), ("c",), ("t",)]
    assert component_of["c"] < component_of["a"] < component_of["t"]
    assert component_of["a"] == component_of["b"]


def test_deep_chains_do_not_hit_the_recursion_limit() -> None:
    edges = {f"n{i}": [f"n{i + 1}"] for i in range(20000)}
    components, _ = strongly_connected_components(edges)
    assert len(components) == 20001
    assert len(closure(edges, "n0")) == 20001
    assert shortest_chain(edges, "n0", "n3") == ["n0", "n1", "n2", "n3"]


def test_hashes_are_identical_across_processes_and_working_directories(
    tree: Path, run, tmp_path: Path
) -> None:
    here = dict(run(CONFIG).hashes)
    script = (
        "import json, sys\nfrom pathlib import Path\nfrom dryci.dagger import analyze, load_config\n"
        "print(json.dumps(dict(analyze(load_config(Path(sys.argv[1]))).hashes)))\n"
    )
    results = []
    for seed, cwd in (("1", tmp_path / "app"), ("12345", Path("/"))):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / "repo_dagger.yaml")],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        results.append(json.loads(out))
    assert results == [here, here]


def test_environment_salt_covers_hash_env_and_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "repo_dagger.yaml"
    path.write_text("hash_env: [DRYCI_TEST_MODE]\n", encoding="utf-8")
    config = load_config(path)
    monkeypatch.delenv("DRYCI_TEST_MODE", raising=False)
    unset = environment_salt(config)
    monkeypatch.setenv("DRYCI_TEST_MODE", "")
    empty = environment_salt(config)
    monkeypatch.setenv("DRYCI_TEST_MODE", "fast")
    fast = environment_salt(config)
    assert len({unset, empty, fast, environment_salt(config, extra="bust")}) == 4
    assert environment_salt(config) == fast, "deterministic"


def test_salt_changes_the_dependency_hashes(tree: Path, tmp_path: Path) -> None:
    (tmp_path / "repo_dagger.yaml").write_text(CONFIG, encoding="utf-8")
    config = load_config(tmp_path / "repo_dagger.yaml")
    plain = analyze(config, salt=environment_salt(config)).hashes
    salted = analyze(config, salt=environment_salt(config, "DRYCI_SALT=1")).hashes
    assert plain.keys() == salted.keys() and all(plain[k] != salted[k] for k in plain)
