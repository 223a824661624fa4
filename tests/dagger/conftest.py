"""Helpers for dagger tests: small project trees written into tmp_path."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Callable, Optional

import pytest

from dryci.dagger import Analysis, analyze, load_config

Write = Callable[..., Path]


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """write({"a/b.py": "text", ...}) creates the files (dedented) below tmp_path."""

    def _write(files: dict[str, str], root: Optional[Path] = None) -> Path:
        base = root or tmp_path
        for rel, text in files.items():
            path = base / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        return base

    return _write


@pytest.fixture
def run(tmp_path: Path) -> Callable[..., Analysis]:
    """run(config_text, **analyze_kwargs): write repo_dagger.yaml into tmp_path and analyze it."""

    def _run(config_text: str, name: str = "repo_dagger.yaml", **kwargs: object) -> Analysis:
        path = tmp_path / name
        path.write_text(textwrap.dedent(config_text), encoding="utf-8")
        return analyze(load_config(path), **kwargs)  # type: ignore[arg-type]

    return _run
