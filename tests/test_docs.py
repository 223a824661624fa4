"""The documentation site builds with ``mkdocs build --strict`` (broken links and nav are errors)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_documentation_site_builds_strictly(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="mkdocs is in the test extra: pip install -e '.[test]'")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr
    html = (tmp_path / "site" / "how-it-works" / "index.html").read_text(encoding="utf-8")
    assert 'src="../img/example_project.svg"' in html
    assert (tmp_path / "site" / "img" / "example_project.svg").is_file()
    for page in ("getting-started", "config", "plugin", "ci", "server", "deployment", "verify", "security",
                 "faq", "benchmarks", "api", "replay"):  # fmt: skip
        assert (tmp_path / "site" / page / "index.html").is_file(), page


def test_the_committed_graph_picture_matches_the_example_project() -> None:
    """docs/img/example_project.svg is drawn from `dryci deps graph`: every edge of the graph is in it."""
    from dryci.dagger import analyze, load_config
    from dryci.dagger.deps_cli import to_dot

    dot = to_dot(analyze(load_config(ROOT / "example_project" / "repo_dagger.yaml")))
    svg = (ROOT / "docs" / "img" / "example_project.svg").read_text(encoding="utf-8")
    edges = [line.strip().rstrip(";").replace('"', "") for line in dot.splitlines() if " -> " in line]
    assert edges
    for edge in edges:
        source, target = edge.split(" -> ")
        assert f"<title>{source}&#45;&gt;{target}</title>" in svg, edge
