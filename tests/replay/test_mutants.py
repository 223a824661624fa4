"""Mutants: which functions a change touches, and the raise that breaks them."""

from __future__ import annotations

import ast
from pathlib import Path

from dryci.replay.mutants import (
    MUTANT_MESSAGE,
    changed_functions,
    is_test_file,
    mutants_of,
    mutated,
    read_sources,
)

SOURCE = '''import os


class Graph:
    @property
    def size(self):
        """How many nodes."""
        return 1

    def walk(self):
        def step():
            return 2

        return step()


def one(): return 1


LIMIT = 3
'''


def names(lines: set[int]) -> list[str]:
    return [m.function for m in changed_functions("pkg/graph.py", SOURCE, lines)]


def test_a_changed_line_picks_the_innermost_function_that_holds_it() -> None:
    assert names({12}) == ["Graph.walk.step"]
    assert names({14}) == ["Graph.walk"]
    assert names({8}) == ["Graph.size"]


def test_a_changed_decorator_counts_for_its_function() -> None:
    assert names({5}) == ["Graph.size"]


def test_module_level_changes_and_one_line_functions_make_no_mutant() -> None:
    assert names({1, 20}) == []
    assert names({17}) == []


def test_the_raise_goes_before_the_docstring_at_the_bodys_indentation() -> None:
    (mutant,) = changed_functions("pkg/graph.py", SOURCE, {8})
    text = mutated(SOURCE, mutant)
    assert (
        f'        raise RuntimeError("{MUTANT_MESSAGE}: Graph.size")\n        """How many nodes."""' in text
    )
    ast.parse(text)  # still Python


def test_test_files_and_conftests_are_never_mutated() -> None:
    assert is_test_file("tests/test_graph.py")
    assert is_test_file("pkg/graph_test.py")
    assert is_test_file("tests/conftest.py")
    assert not is_test_file("pkg/testing.py")
    changed = {"tests/test_graph.py": {8}, "pkg/graph.py": {8, 12}}
    sources = {"tests/test_graph.py": SOURCE, "pkg/graph.py": SOURCE}
    assert [str(m) for m in mutants_of(changed, sources, 5)] == [
        "pkg/graph.py::Graph.size",
        "pkg/graph.py::Graph.walk.step",
    ]


def test_no_more_mutants_than_asked_for() -> None:
    assert len(mutants_of({"pkg/graph.py": {8, 12, 14}}, {"pkg/graph.py": SOURCE}, 2)) == 2


def test_a_file_that_does_not_parse_makes_no_mutant() -> None:
    assert changed_functions("pkg/bad.py", "def broken(:\n", {1}) == []


def test_the_sources_leave_out_deleted_and_undecodable_files(tmp_path: Path) -> None:
    (tmp_path / "kept.py").write_text("def f():\n    return 1\n", encoding="utf-8")
    (tmp_path / "latin.py").write_bytes(b"# caf\xe9\n")
    sources = read_sources(tmp_path, ["kept.py", "latin.py", "gone.py"])
    assert sources == {"kept.py": "def f():\n    return 1\n"}
