"""The usage record (moved between processes as JSON) and the three renderings of a verdict."""

from __future__ import annotations

import json

import pytest
import yaml

from dryci.exceptions import ProtocolError
from dryci.verify.compare import compare
from dryci.verify.report import dumps, summary_line, text_lines, yaml_snippet
from dryci.verify.usage import Use, from_json, merge, to_json

T = "tests/test_report.py"
USAGE = {T: frozenset({Use("pkg/templates/report.html", "reads", "pkg/report.py"), Use("pkg/x.py", "runs")})}
CLOSURES = {T: frozenset({T, "pkg/report.py", "pkg/x.py"})}


def test_usage_survives_a_json_round_trip() -> None:
    assert from_json(json.loads(json.dumps(to_json(USAGE)))) == USAGE


def test_merging_recordings_unites_each_test_files_uses() -> None:
    extra = {T: frozenset({Use("a.txt", "reads", T)}), "tests/test_b.py": frozenset({Use("b.txt", "reads")})}
    merged = merge([USAGE, extra])
    assert merged[T] == USAGE[T] | extra[T]
    assert merged["tests/test_b.py"] == extra["tests/test_b.py"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"format": 99, "usage": {}}, "format"),
        ({"format": 1, "usage": []}, "usage"),
        ({"format": 1, "usage": {T: "x"}}, f"usage.{T}"),
        ({"format": 1, "usage": {T: [["a", "eats", None, None]]}}, f"usage.{T}"),
    ],
)
def test_a_malformed_usage_record_names_the_field(data: object, field: str) -> None:
    with pytest.raises(ProtocolError) as info:
        from_json(data)
    assert info.value.field == field


def test_the_text_report_lists_each_finding_under_its_fix_and_a_yaml_snippet() -> None:
    lines = text_lines(compare(USAGE, CLOSURES))
    assert lines[:3] == [
        "dryci verify: 1 test file use 1 file the dependency graph does not contain",
        "  tests/test_report.py reads pkg/templates/report.html (from pkg/report.py)",
        '      fix: path_rules: "pkg/report.py": visit_siblings: "templates/*.html"',
    ]
    assert "dryci verify: add these rules to your repo_dagger.yaml:" in lines


def test_the_yaml_snippet_is_a_valid_path_rules_mapping() -> None:
    snippet = yaml.safe_load(yaml_snippet(compare(USAGE, CLOSURES)))
    assert snippet == {"path_rules": {"pkg/report.py": {"visit_siblings": ["templates/*.html"]}}}


def test_a_clean_verdict_says_every_file_is_in_the_graph() -> None:
    verdict = compare({T: frozenset({Use("pkg/x.py", "runs")})}, CLOSURES)
    assert summary_line(verdict) == (
        "dryci verify: 1 test file checked; every file they used is in the dependency graph"
    )


def test_the_json_report_holds_findings_and_rules() -> None:
    data = json.loads(dumps(compare(USAGE, CLOSURES)))
    assert data["test_files_checked"] == [T]
    assert data["findings"] == [
        {
            "test_file": T,
            "path": "pkg/templates/report.html",
            "kind": "reads",
            "reader": "pkg/report.py",
            "fix": {"path_rule": "pkg/report.py", "action": "visit_siblings", "value": "templates/*.html"},
        }
    ]
    assert data["path_rules"] == {"pkg/report.py": {"visit_siblings": ["templates/*.html"]}}
