"""``dryci deps graph`` / ``dryci deps --graph``: the dependency graph of example_project in DOT and SVG."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from dryci.cli import main as dryci
from dryci.dagger import analyze, load_config
from dryci.dagger.deps_cli import to_dot

EXAMPLE = Path(__file__).resolve().parents[2] / "example_project"
EDGE = re.compile(r'^  "([^"]+)" -> "([^"]+)";$', re.MULTILINE)


def expected_edges() -> set[tuple[str, str]]:
    """Every relation of example_project, minus self-edges and edges to the file every file needs."""
    analysis = analyze(load_config(EXAMPLE / "repo_dagger.yaml"))
    return {
        (path, dep)
        for path, deps in analysis.relations.items()
        for dep in deps
        if dep not in (path, "pyproject.toml")
    }


def test_the_dot_output_has_every_edge_of_example_project(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(EXAMPLE)
    assert dryci(["deps", "--no-cache", "graph"]) == 0
    dot = capsys.readouterr().out
    assert dot.startswith("digraph dependencies {\n") and dot.endswith("}\n")
    edges = set(EDGE.findall(dot))
    assert edges == expected_edges()
    for edge in [
        ("tests/test_catalog.py", "tests/conftest.py"),
        ("tests/conftest.py", "src/example_service/catalog.py"),
        ("src/example_service/catalog.py", "src/example_service/data/catalog.json"),
        ("src/example_service/pricing.py", "src/example_service/plugins/__init__.py"),
        ("src/example_service/plugins/__init__.py", "src/example_service/plugins/kitchen.py"),
    ]:
        assert edge in edges
    assert '"tests/test_pricing.py" [shape=box' in dot
    assert '"pyproject.toml" [shape=note, label="pyproject.toml\\n(needed by every file)"];' in dot


def test_the_graph_flag_equals_the_graph_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(EXAMPLE)
    assert dryci(["deps", "--no-cache", "--graph", "-o", str(tmp_path / "a.dot")]) == 0
    assert dryci(["deps", "--no-cache", "graph", "-o", str(tmp_path / "b.dot")]) == 0
    assert (tmp_path / "a.dot").read_text(encoding="utf-8") == (tmp_path / "b.dot").read_text(
        encoding="utf-8"
    )
    assert capsys.readouterr().out == ""


def test_names_with_quotes_are_escaped(tmp_path: Path) -> None:
    (tmp_path / 'odd"name.py').write_text("import helper\n", encoding="utf-8")
    (tmp_path / "helper.py").write_text("", encoding="utf-8")
    config = tmp_path / "repo_dagger.yaml"
    config.write_text(
        'inputs: "odd*.py"\npath_rules:\n  "**/*.py":\n    visit_imported_python_modules: true\n',
        encoding="utf-8",
    )
    dot = to_dot(analyze(load_config(config)))
    assert '  "odd\\"name.py" -> "helper.py";' in dot.splitlines()


def test_svg_is_drawn_by_graphviz(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    monkeypatch.chdir(EXAMPLE)
    assert dryci(["deps", "--no-cache", "graph", "-o", str(tmp_path / "g.svg")]) == 0
    svg = (tmp_path / "g.svg").read_text(encoding="utf-8")
    assert "<svg" in svg
    assert "<title>tests/test_catalog.py&#45;&gt;tests/conftest.py</title>" in svg


def test_svg_without_graphviz_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(EXAMPLE)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert dryci(["deps", "--no-cache", "graph", "-o", str(tmp_path / "g.svg")]) == 2
    assert capsys.readouterr().err == (
        "dryci deps: error: writing SVG needs Graphviz's `dot` on PATH; write DOT (-o graph.dot) instead\n"
    )
    assert not (tmp_path / "g.svg").exists()


def test_without_a_command_or_the_flag_the_usage_names_both(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        dryci(["deps"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == "dryci deps: error: a COMMAND (or --graph) is required"
