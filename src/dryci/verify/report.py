"""How a verdict is shown: terminal lines, a ready-to-paste YAML snippet, and a JSON document."""

from __future__ import annotations

import json
from typing import Any

import yaml

from dryci.verify.compare import Finding, Rule, Verdict

_VERBS = {
    "imports": "imports",
    "reads": "reads",
    "lists": "lists",
    "runs": "runs code from",
    "references": "references",
}
JSON_FORMAT = 1


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary_line(verdict: Verdict) -> str:
    if not verdict.findings:
        return (
            f"dryci verify: {_plural(len(verdict.checked), 'test file')} checked; every file they used "
            "is in the dependency graph"
        )
    return (
        f"dryci verify: {_plural(len(verdict.test_files_with_findings), 'test file')} use "
        f"{_plural(len(verdict.missing_files), 'file')} the dependency graph does not contain"
    )


def _describe(finding: Finding) -> str:
    line = f"  {finding.test_file} {_VERBS[finding.kind]} {finding.path}"
    if finding.reader and finding.reader != finding.test_file:
        line += f" (from {finding.reader})"
    return line


def _fix(rule: Rule) -> str:
    return f'      fix: path_rules: "{rule.pattern}": {rule.action}: "{rule.value}"'


def text_lines(verdict: Verdict, *, verbose: bool = False) -> list[str]:
    """Summary, findings grouped by the rule that fixes them, the YAML snippet, the unanalyzed files."""
    lines = [summary_line(verdict)]
    for rule, findings in verdict.by_rule().items():
        lines += [_describe(f) for f in findings]
        lines.append(_fix(rule))
    if verdict.findings:
        lines += ["", "dryci verify: add these rules to your repo_dagger.yaml:", ""]
        lines += ["    " + line for line in yaml_snippet(verdict).splitlines()]
    if verdict.not_analyzed:
        lines.append(
            f"dryci verify: {_plural(len(verdict.not_analyzed), 'test file')} ran but "
            "are not among the config's inputs (never cached, not checked)"
        )
        if verbose:
            lines += [f"  {path}" for path in verdict.not_analyzed]
    return lines


def rules_mapping(verdict: Verdict) -> dict[str, dict[str, list[str]]]:
    """``path_rules`` content: pattern -> action -> sorted values."""
    rules: dict[str, dict[str, set[str]]] = {}
    for rule in verdict.by_rule():
        rules.setdefault(rule.pattern, {}).setdefault(rule.action, set()).add(rule.value)
    return {
        pattern: {action: sorted(values) for action, values in sorted(actions.items())}
        for pattern, actions in sorted(rules.items())
    }


def yaml_snippet(verdict: Verdict) -> str:
    return yaml.safe_dump({"path_rules": rules_mapping(verdict)}, sort_keys=False, default_flow_style=False)


def to_json(verdict: Verdict) -> dict[str, Any]:
    return {
        "format": JSON_FORMAT,
        "test_files_checked": list(verdict.checked),
        "test_files_not_analyzed": list(verdict.not_analyzed),
        "findings": [
            {
                "test_file": f.test_file,
                "path": f.path,
                "kind": f.kind,
                "reader": f.reader,
                "fix": {"path_rule": f.rule.pattern, "action": f.rule.action, "value": f.rule.value},
            }
            for f in sorted(verdict.findings, key=lambda f: (f.test_file, f.path))
        ],
        "path_rules": rules_mapping(verdict),
    }


def dumps(verdict: Verdict) -> str:
    return json.dumps(to_json(verdict), indent=2, sort_keys=True) + "\n"
