"""Each kind of hidden dependency: the verifier finds it, suggests a rule, and with the rule the verifier
is quiet and ``pytest --dryci`` re-runs the test when that file changes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.verify.conftest import apply_rules, findings, touch, write


@dataclass(frozen=True)
class Case:
    files: dict[str, str]
    test_file: str
    missing: str
    kind: str
    fix: str  # the `fix:` line's content


def _reader(body: str, *, imports: str = "") -> str:
    return f"from pathlib import Path\n{imports}\nHERE = Path(__file__).parent\n\n\ndef render():\n{body}\n"


TEMPLATE = {"pkg/templates/page.html": "<p>Hi</p>\n"}
RENDER_TEST = {
    "tests/test_report.py": "from pkg.report import render\n\n\ndef test_render():\n"
    "    assert 'Hi' in str(render())\n"
}
TEMPLATE_FIX = '"pkg/report.py": visit_siblings: "templates/*.html"'

CASES = {
    "open": Case(
        {
            "pkg/report.py": _reader(
                "    with open(HERE / 'templates' / 'page.html') as f:\n        return f.read()"
            ),
            **TEMPLATE,
            **RENDER_TEST,
        },
        "tests/test_report.py",
        "pkg/templates/page.html",
        "reads",
        TEMPLATE_FIX,
    ),
    "pathlib read_text": Case(
        {
            "pkg/report.py": _reader("    return (HERE / 'templates' / 'page.html').read_text()"),
            **TEMPLATE,
            **RENDER_TEST,
        },
        "tests/test_report.py",
        "pkg/templates/page.html",
        "reads",
        TEMPLATE_FIX,
    ),
    "io.open": Case(
        {
            "pkg/report.py": _reader(
                "    with io.open(str(HERE / 'templates' / 'page.html')) as f:\n        return f.read()",
                imports="import io",
            ),
            **TEMPLATE,
            **RENDER_TEST,
        },
        "tests/test_report.py",
        "pkg/templates/page.html",
        "reads",
        TEMPLATE_FIX,
    ),
    "importlib.resources": Case(
        {
            "pkg/report.py": _reader(
                "    return importlib.resources.files('pkg').joinpath('templates/page.html').read_text()",
                imports="import importlib.resources",
            ),
            **TEMPLATE,
            **RENDER_TEST,
        },
        "tests/test_report.py",
        "pkg/templates/page.html",
        "reads",
        TEMPLATE_FIX,
    ),
    "pkgutil.get_data": Case(
        {
            "pkg/report.py": _reader(
                "    return pkgutil.get_data('pkg', 'templates/page.html')", imports="import pkgutil"
            ),
            **TEMPLATE,
            **RENDER_TEST,
        },
        "tests/test_report.py",
        "pkg/templates/page.html",
        "reads",
        TEMPLATE_FIX,
    ),
    "import_module of a computed name": Case(
        {
            "pkg/registry.py": "import importlib\n\n\ndef load(name):\n"
            "    return importlib.import_module('pkg.plugins.' + name)\n",
            "pkg/plugins/__init__.py": "",
            "pkg/plugins/greet.py": "def run():\n    return 'hi'\n",
            "tests/test_registry.py": "from pkg.registry import load\n\n\ndef test_load():\n"
            "    assert load('greet').run() == 'hi'\n",
        },
        "tests/test_registry.py",
        "pkg/plugins/greet.py",
        "imports",
        '"pkg/registry.py": visit_python_all_submodules_for: "pkg.plugins"',
    ),
    "os.listdir of a data folder": Case(
        {
            "pkg/catalog.py": "import os\nfrom pathlib import Path\n\n\ndef names():\n"
            "    return sorted(os.listdir(Path(__file__).parent / 'items'))\n",
            "pkg/items/a.txt": "a\n",
            "pkg/items/b.txt": "b\n",
            "tests/test_catalog.py": "from pkg.catalog import names\n\n\ndef test_names():\n"
            "    assert names() == ['a.txt', 'b.txt']\n",
        },
        "tests/test_catalog.py",
        "pkg/items/a.txt",
        "lists",
        '"pkg/catalog.py": visit_siblings: "items/*"',
    ),
    "a module first imported by an earlier test file": Case(
        {
            "pkg/helper.py": "def double(x):\n    return 2 * x\n",
            "tests/test_a.py": "from pkg.helper import double\n\n\n"
            "def test_a():\n    assert double(1) == 2\n",
            # test_b only names the module at run time; sys.modules already holds it from test_a.
            "tests/test_b.py": "import importlib\n\n\ndef test_b():\n"
            "    assert importlib.import_module('pkg.' + 'helper').double(2) == 4\n",
        },
        "tests/test_b.py",
        "pkg/helper.py",
        "runs",
        '"tests/test_b.py": visit: "pkg/helper.py"',
    ),
    "a cached module held in a test module's globals": Case(
        {
            "pkg/consts.py": "LIMIT = 3\n",
            "tests/test_a.py": "from pkg.consts import LIMIT\n\n\ndef test_a():\n    assert LIMIT == 3\n",
            "tests/test_b.py": "import importlib\n\nconsts = importlib.import_module('pkg.' + 'consts')\n\n\n"
            "def test_b():\n    assert consts.LIMIT == 3\n",
        },
        "tests/test_b.py",
        "pkg/consts.py",
        "references",
        '"tests/test_b.py": visit: "pkg/consts.py"',
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_the_verifier_finds_each_hidden_dependency_and_its_rule_fixes_it(
    project: pytest.Pytester, case: Case
) -> None:
    write(project, case.files)
    result, report = findings(project)
    tests = sum(1 for f in case.files if f.startswith("tests/test_"))
    result.assert_outcomes(passed=tests)
    found = [f for f in report["findings"] if (f["test_file"], f["path"]) == (case.test_file, case.missing)]
    assert [f["kind"] for f in found] == [case.kind]
    result.stdout.fnmatch_lines(
        [
            "dryci verify: * test file* use * file* the dependency graph does not contain",
            f"  {case.test_file} * {case.missing}*",
            f"      fix: path_rules: {case.fix}",
        ]
    )

    apply_rules(project, report["path_rules"])
    quiet, after = findings(project)
    assert after["findings"] == []
    quiet.stdout.fnmatch_lines(["dryci verify: * checked; every file they used is in the dependency graph"])

    # With the rule, the cache re-runs the test when the hidden file changes.
    project.runpytest("--dryci").assert_outcomes(passed=tests)
    cached = project.runpytest("--dryci")
    cached.assert_outcomes()
    cached.stdout.fnmatch_lines([f"dryci: {tests} of {tests} test* cached*; 0 ran*"])
    touch(project.path / case.missing)
    rerun = project.runpytest("--dryci", "-v")
    rerun.stdout.fnmatch_lines([f"{case.test_file}::* PASSED*"])
