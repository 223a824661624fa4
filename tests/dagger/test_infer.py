"""Inference of a config from a repository tree (pure, on snapshots and generated layouts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dryci.dagger import analyze
from dryci.dagger.datapaths import data_accesses
from dryci.dagger.infer import RepoSnapshot, infer, inferred_config, pytest_settings, scan_repository
from tests.dagger.layouts import DATA, LAYOUTS, write_layout

EXPECTED = {
    # layout: (inputs, python_roots, root_python_packages, global_deps)
    "flat": (("tests/**/test_*.py",), ("tests", "."), ("mypkg",), ("pyproject.toml", "conftest.py")),
    "src": (("tests/**/test_*.py",), ("src", "tests"), ("mypkg",), ("pyproject.toml",)),
    "namespace": (("tests/**/test_*.py",), ("src", "tests"), ("acme",), ("pytest.ini",)),
    "tests-in-package": (("mypkg/**/test_*.py",), (".",), ("mypkg",), ("setup.cfg",)),
    "tests-at-top": (
        ("tests/**/check_*.py",),
        (".",),
        ("app", "tests"),
        ("tox.ini",),
    ),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_each_layout_gets_its_inputs_roots_packages_and_global_deps(tmp_path: Path, layout: str) -> None:
    inferred = infer(scan_repository(write_layout(tmp_path, layout)))
    got = (inferred.inputs, inferred.python_roots, inferred.root_python_packages, inferred.global_deps)
    assert got == EXPECTED[layout]
    assert inferred.notes == ()


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_each_layout_closure_reaches_the_package_and_the_data_file(tmp_path: Path, layout: str) -> None:
    analysis = analyze(inferred_config(write_layout(tmp_path, layout)))
    data_file, node = DATA[layout]
    reader = node.split("::")[0]
    assert data_file in analysis.closure(reader)
    other = next(test for test in analysis.inputs if test != reader)
    assert data_file not in analysis.closure(other)
    assert any(path.endswith("core.py") or path == "app.py" for path in analysis.closure(other))


def test_the_scan_skips_hidden_virtualenv_and_build_folders(tmp_path: Path) -> None:
    for rel in ("a/test_a.py", ".git/x.py", "node_modules/y.py", "venv2/pyvenv.cfg", "venv2/lib/z.py",
                "pkg.egg-info/PKG-INFO", "build/lib/b.py"):  # fmt: skip
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("", encoding="utf-8")
    assert scan_repository(tmp_path).files == ("a/test_a.py",)


def test_pytest_settings_come_from_the_first_file_pytest_would_use() -> None:
    texts = {
        "pyproject.toml": '[tool.pytest.ini_options]\ntestpaths = ["from_pyproject"]\n',
        "tox.ini": "[pytest]\ntestpaths = from_tox\n",
    }
    assert pytest_settings(texts).testpaths == ("from_pyproject",)
    assert pytest_settings({**texts, "pytest.ini": "[pytest]\n"}).testpaths == ()
    assert pytest_settings({"setup.cfg": "[tool:pytest]\npython_files = t_*.py  *_t.py\n"}).python_files == (
        "t_*.py",
        "*_t.py",
    )


def test_a_broken_settings_file_is_passed_over() -> None:
    settings = pytest_settings({"pyproject.toml": "[tool.pytest", "tox.ini": "[pytest]\ntestpaths = t\n"})
    assert settings.source == "tox.ini"
    assert settings.testpaths == ("t",)


def test_without_test_files_inputs_fall_back_to_the_default_patterns_and_say_so() -> None:
    inferred = infer(RepoSnapshot(files=("pkg/__init__.py", "pkg/mod.py")))
    assert inferred.inputs == ("**/test_*.py", "**/*_test.py")
    assert inferred.notes == ("no test files found: inputs fall back to pytest's default patterns",)


def test_tests_outside_testpaths_are_not_inputs() -> None:
    snapshot = RepoSnapshot(
        files=("tests/test_a.py", "scripts/test_tool.py", "tests/conftest.py"),
        texts={"pytest.ini": "[pytest]\ntestpaths = tests\n"},
    )
    assert infer(snapshot).test_files == ("tests/test_a.py",)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('P = Path(__file__).parent / "data" / "x.json"', [("pkg/data/x.json", False)]),
        ('P = Path(__file__).resolve().parents[1] / "conf.ini"', [("conf.ini", False)]),
        ('P = pathlib.Path(__file__).absolute().parent.joinpath("a", "b.txt")', [("pkg/a/b.txt", False)]),
        ('P = os.path.join(os.path.dirname(__file__), "data", "x.json")', [("pkg/data/x.json", False)]),
        (
            'HERE = os.path.dirname(os.path.realpath(__file__))\nP = os.path.join(HERE, "t.txt")',
            [("pkg/t.txt", False)],
        ),
        (
            'HERE = Path(__file__).parent\nD = HERE / "data"\nF = D / name',
            [("pkg/data", False), ("pkg/data", True)],
        ),
        ('P = Path(__file__).parent / f"{name}.json"', [("pkg", True)]),
        ('P = Path(__file__).parents[3] / "outside"', []),
        ('P = Path("static") / "x"\nQ = Path(__file__).parent', []),
        ("def broken(:\n", []),
    ],
)
def test_data_paths_built_from_the_module_location_are_found(source: str, expected: list) -> None:
    assert data_accesses("pkg/mod.py", source) == expected


def test_a_data_path_that_is_not_in_the_tree_gets_a_note_not_a_rule() -> None:
    snapshot = RepoSnapshot(
        files=("pkg/__init__.py", "pkg/mod.py", "tests/test_mod.py"),
        texts={"pkg/mod.py": 'P = Path(__file__).parent / "generated.json"\n'},
    )
    inferred = infer(snapshot)
    assert inferred.data_rules == {}
    assert inferred.notes == (
        "pkg/mod.py: data path 'pkg/generated.json' is not in the tree; no rule written",
    )


def test_the_inferred_config_hash_changes_with_the_config_only() -> None:
    files = ("pkg/__init__.py", "tests/test_a.py")
    first = infer(RepoSnapshot(files=files))
    assert first.fingerprint() == infer(RepoSnapshot(files=files)).fingerprint()
    assert first.fingerprint() != infer(RepoSnapshot(files=(*files, "pytest.ini"))).fingerprint()


def test_lock_files_are_no_global_dependencies_since_distributions_are_in_the_keys() -> None:
    files = ("pkg/__init__.py", "tests/test_a.py", "uv.lock", "poetry.lock", "requirements.txt")
    assert infer(RepoSnapshot(files=files)).global_deps == ()


def test_variables_the_code_reads_with_a_literal_name_go_into_hash_env() -> None:
    texts = {
        "pkg/settings.py": "import os\nMODE = os.environ['APP_MODE']\nHOME = os.getenv('HOME')\n",
        "tests/test_a.py": "import os\n\ndef test_a():\n    assert os.environ.get('APP_FLAG', '') == ''\n"
        "    assert os.getenv('PYTHONWARNINGS') is None\n",
    }
    inferred = infer(RepoSnapshot(files=tuple(texts), texts=texts))
    assert inferred.env_reads == {
        "APP_FLAG": ("tests/test_a.py",),
        "APP_MODE": ("pkg/settings.py",),
        "HOME": ("pkg/settings.py",),
    }
    # HOME names the machine; PYTHONWARNINGS is in every key already.
    assert inferred.hash_env == ("APP_FLAG", "APP_MODE")
