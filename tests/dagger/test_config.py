from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest

from dryci.dagger import ConfigError, find_config, load_config

FULL_YAML = """
base_dir: "."
inputs: ["tests/**/test_*.py", "more/test_*.py"]
global_deps: "lock.txt"
global_exclude: ["**/*.pyc"]
root_python_packages: ["pkg", "tests"]
python_roots: ["src", "."]
hash_env: "MODE"
path_rules:
  "tests/**/test_*.py":
    visit_grand_siblings: ["conftest.py", "__init__.py"]
  "**/*.py":
    visit: "setup.cfg"
    visit_siblings: ["*.json"]
    visit_imported_python_modules: true
    visit_python_all_submodules_for: "pkg.plugins"
    exclude: "pkg/skip.py"
    regex_rules:
      'load\\("([^"]+)"\\)':
        visit_siblings: "$1"
        exclude: ["pkg/false_positive.py"]
"""


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "lock.txt").write_text("x", encoding="utf-8")
    return tmp_path


def test_every_key_of_the_yaml_format_is_read(layout: Path) -> None:
    config = load_config(_write(layout / "repo_dagger.yaml", FULL_YAML))
    assert config.base_dir == layout.resolve()
    assert config.source == (layout / "repo_dagger.yaml").resolve()
    assert config.inputs == ("tests/**/test_*.py", "more/test_*.py")
    assert config.global_deps == ("lock.txt",)
    assert config.global_exclude == ("**/*.pyc",)
    assert config.root_python_packages == ("pkg", "tests")
    assert config.python_roots == ("src", ".")
    assert config.hash_env == ("MODE",)
    first, second = config.path_rules
    assert first.pattern == "tests/**/test_*.py"
    assert first.actions.visit_grand_siblings == ("conftest.py", "__init__.py")
    assert second.actions.visit == ("setup.cfg",)
    assert second.actions.visit_siblings == ("*.json",)
    assert second.actions.visit_imported_python_modules is True
    assert second.actions.visit_python_all_submodules_for == ("pkg.plugins",)
    assert second.actions.exclude == ("pkg/skip.py",)
    (regex_rule,) = second.regex_rules
    assert regex_rule.pattern == 'load\\("([^"]+)"\\)'
    assert regex_rule.regex.search('x = load("a.txt")').group(1) == "a.txt"
    assert regex_rule.actions.visit_siblings == ("$1",)
    assert regex_rule.actions.exclude == ("pkg/false_positive.py",)


def test_content_hash_is_the_sha256_of_the_file_bytes(layout: Path) -> None:
    path = _write(layout / "repo_dagger.yaml", FULL_YAML)
    assert load_config(path).content_hash == hashlib.sha256(path.read_bytes()).hexdigest()


def test_toml_config_means_the_same_as_yaml(layout: Path) -> None:
    toml = _write(
        layout / "repo_dagger.toml",
        """
        base_dir = "."
        inputs = "tests/**/test_*.py"
        global_deps = ["lock.txt"]
        root_python_packages = "pkg"
        python_roots = ["src"]
        hash_env = ["MODE", "OTHER"]

        [path_rules."**/*.py"]
        visit_imported_python_modules = true

        [path_rules."**/*.py".regex_rules.'open\\("(\\w+)"\\)']
        visit = "data/$1"
        """,
    )
    config = load_config(toml)
    assert config.inputs == ("tests/**/test_*.py",)
    assert config.root_python_packages == ("pkg",)
    assert config.hash_env == ("MODE", "OTHER")
    (rule,) = config.path_rules
    assert rule.actions.visit_imported_python_modules
    assert rule.regex_rules[0].actions.visit == ("data/$1",)


def test_pyproject_tool_table_is_a_config(layout: Path) -> None:
    path = _write(
        layout / "pyproject.toml",
        """
        [project]
        name = "x"

        [tool.repo_dagger]
        inputs = "tests/test_*.py"
        """,
    )
    assert find_config(layout) == path
    assert load_config(path).inputs == ("tests/test_*.py",)


def test_find_config_prefers_yaml_then_toml_then_pyproject(tmp_path: Path) -> None:
    assert find_config(tmp_path) is None
    _write(tmp_path / "pyproject.toml", "[project]\nname = 'x'\n")
    assert find_config(tmp_path) is None, "a pyproject.toml without [tool.repo_dagger] is not a config"
    _write(tmp_path / "pyproject.toml", "[tool.repo_dagger]\ninputs = 'x'\n")
    assert find_config(tmp_path) == tmp_path / "pyproject.toml"
    _write(tmp_path / "repo_dagger.toml", "inputs = 'x'\n")
    assert find_config(tmp_path) == tmp_path / "repo_dagger.toml"
    _write(tmp_path / "repo_dagger.yaml", "inputs: x\n")
    assert find_config(tmp_path) == tmp_path / "repo_dagger.yaml"


def test_defaults_of_an_empty_config(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path / "repo_dagger.yaml", ""))
    assert config.base_dir == tmp_path.resolve()
    assert config.python_roots == (".",)
    assert config.inputs == config.global_deps == config.hash_env == ()
    assert config.path_rules == ()


def test_base_dir_is_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    config = load_config(_write(tmp_path / "conf" / "repo_dagger.yaml", "base_dir: ../repo\n"))
    assert config.base_dir == (tmp_path / "repo").resolve()


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("bogus: 1\n", "bogus", "unknown key"),
        ("inputs: 3\n", "inputs", "expected a string or a list of strings, got a number (3)"),
        ("global_exclude: [1]\n", "global_exclude", "expected a string or a list of strings"),
        ("base_dir: [a]\n", "base_dir", "expected a string"),
        ("path_rules: [a]\n", "path_rules", "expected a mapping of glob -> actions"),
        ('path_rules: {"*.py": {visitt: x}}\n', 'path_rules."*.py".visitt', "unknown key"),
        (
            'path_rules: {"*.py": {visit_imported_python_modules: "yes"}}\n',
            'path_rules."*.py".visit_imported_python_modules',
            "expected true or false",
        ),
        (
            'path_rules: {"*.py": {regex_rules: {"(": {visit: x}}}}\n',
            'path_rules."*.py".regex_rules."("',
            "invalid regular expression",
        ),
        (
            'path_rules: {"*.py": {regex_rules: {"x": {regex_rules: {}}}}}\n',
            'path_rules."*.py".regex_rules."x".regex_rules',
            "unknown key",
        ),
        (
            'path_rules: {"*.py": {visit_siblings: {a: b}}}\n',
            'path_rules."*.py".visit_siblings',
            "expected a string or a list of strings, got a mapping",
        ),
        ("global_deps: missing.txt\n", "global_deps", "file 'missing.txt' does not exist"),
        ("python_roots: nowhere\n", "python_roots", "folder 'nowhere' does not exist"),
        (
            "hash_distributions: some\n",
            "hash_distributions",
            "expected all, imported or a list of distribution",
        ),
        ("hash_distributions: [numpy, 3]\n", "hash_distributions", "got a list containing a non-string"),
    ],
)
def test_bad_config_raises_an_error_naming_file_and_key(
    tmp_path: Path, text: str, key: str, message: str
) -> None:
    path = _write(tmp_path / "repo_dagger.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.file == str(path)
    assert info.value.key == key
    assert message in info.value.message
    assert str(info.value).startswith(f"{path}: {key}: ")


def test_invalid_yaml_and_toml_name_the_file(tmp_path: Path) -> None:
    for name, text in (("repo_dagger.yaml", "inputs: [unclosed\n"), ("repo_dagger.toml", "inputs = \n")):
        path = _write(tmp_path / name, text)
        with pytest.raises(ConfigError, match=r"invalid (YAML|TOML)") as info:
            load_config(path)
        assert info.value.file == str(path)


def test_invalid_yaml_is_one_line_with_the_file_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "repo_dagger.yaml", 'inputs: "tests/*.py"\npath_rules:\n  "a": b: c\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: invalid YAML at line 3, column 9: mapping values are not allowed here"


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file") as info:
        load_config(tmp_path / "nope.yaml")
    assert info.value.file == str(tmp_path / "nope.yaml")


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="expected a mapping of keys at the top level"):
        load_config(_write(tmp_path / "repo_dagger.yaml", "- a\n- b\n"))


def test_config_is_frozen(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path / "repo_dagger.yaml", "inputs: x\n"))
    with pytest.raises(AttributeError):
        config.inputs = ("y",)  # type: ignore[misc]


def test_the_documented_toml_example_means_the_same_as_the_example_projects_yaml(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    docs = (root / "docs" / "config.md").read_text(encoding="utf-8")
    toml_block = docs.split("```toml\n", 1)[1].split("```", 1)[0]
    for folder in ("src", "tests"):
        (tmp_path / folder).mkdir()
    (tmp_path / "pyproject.toml").write_text(toml_block, encoding="utf-8")
    from_toml = load_config(tmp_path / "pyproject.toml")
    from_yaml = load_config(root / "example_project" / "repo_dagger.yaml")
    for key in ("inputs", "global_deps", "root_python_packages", "python_roots", "hash_env"):
        assert getattr(from_toml, key) == getattr(from_yaml, key), key
    toml_rule = from_toml.path_rules[0]
    yaml_rule = from_yaml.path_rules[0]
    assert toml_rule.actions == yaml_rule.actions
    assert [r.pattern for r in toml_rule.regex_rules] == [r.pattern for r in yaml_rule.regex_rules]
    assert [r.actions for r in toml_rule.regex_rules] == [r.actions for r in yaml_rule.regex_rules]


@pytest.mark.parametrize(
    ("text", "every", "listed"),
    [
        ("", False, ()),
        ("hash_distributions: imported\n", False, ()),
        ("hash_distributions: all\n", True, ()),
        ("hash_distributions: [SciPy, typing_extensions]\n", False, ("scipy", "typing-extensions")),
    ],
)
def test_hash_distributions_takes_imported_all_or_a_list_of_names(
    tmp_path: Path, text: str, every: bool, listed: tuple[str, ...]
) -> None:
    config = load_config(_write(tmp_path / "repo_dagger.yaml", text))
    assert (config.hash_all_distributions, config.hash_distributions) == (every, listed)
