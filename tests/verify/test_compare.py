"""compare(): runtime uses versus closures -> findings and the rules that fix them (pure, no pytest run)."""

from __future__ import annotations

from dryci.verify.compare import Rule, compare
from dryci.verify.usage import Use

T = "tests/test_report.py"


def _closure(*paths: str) -> frozenset[str]:
    return frozenset({T, *paths})


def test_a_file_in_the_closure_is_not_a_finding() -> None:
    usage = {T: frozenset({Use("pkg/report.py", "imports", T, "pkg.report")})}
    verdict = compare(usage, {T: _closure("pkg/report.py")})
    assert verdict.findings == ()
    assert verdict.checked == (T,)


def test_the_test_file_itself_is_never_a_finding() -> None:
    verdict = compare({T: frozenset({Use(T, "reads", None)})}, {T: frozenset()})
    assert verdict.findings == ()


def test_data_next_to_the_reading_module_suggests_visit_siblings_with_its_suffix() -> None:
    usage = {T: frozenset({Use("pkg/templates/report.html", "reads", "pkg/report.py")})}
    verdict = compare(usage, {T: _closure("pkg/report.py")})
    [finding] = verdict.findings
    assert (finding.test_file, finding.path, finding.kind) == (T, "pkg/templates/report.html", "reads")
    assert finding.rule == Rule("pkg/report.py", "visit_siblings", "templates/*.html")


def test_data_in_the_reading_modules_own_folder_suggests_a_plain_suffix_glob() -> None:
    usage = {T: frozenset({Use("pkg/table.csv", "reads", "pkg/report.py")})}
    [finding] = compare(usage, {T: _closure("pkg/report.py")}).findings
    assert finding.rule == Rule("pkg/report.py", "visit_siblings", "*.csv")


def test_data_outside_the_readers_folder_suggests_visit_of_that_folder() -> None:
    usage = {T: frozenset({Use("data/big.json", "reads", "pkg/report.py")})}
    [finding] = compare(usage, {T: _closure("pkg/report.py")}).findings
    assert finding.rule == Rule("pkg/report.py", "visit", "data/*.json")


def test_a_reader_outside_the_closure_puts_the_rule_on_the_test_file() -> None:
    usage = {T: frozenset({Use("tests/data/a.json", "reads", "tests/helpers.py")})}
    [finding] = compare(usage, {T: _closure()}).findings
    assert finding.rule == Rule(T, "visit_siblings", "data/*.json")


def test_a_listed_folder_suggests_every_file_in_it() -> None:
    usage = {T: frozenset({Use("pkg/fixtures/one.txt", "lists", "pkg/report.py", "pkg/fixtures")})}
    [finding] = compare(usage, {T: _closure("pkg/report.py")}).findings
    assert finding.rule == Rule("pkg/report.py", "visit_siblings", "fixtures/*")


def test_a_computed_import_from_a_subpackage_suggests_all_of_its_submodules() -> None:
    usage = {T: frozenset({Use("pkg/plugins/a.py", "imports", "pkg/registry.py", "pkg.plugins.a")})}
    [finding] = compare(usage, {T: _closure("pkg/registry.py")}).findings
    assert finding.rule == Rule("pkg/registry.py", "visit_python_all_submodules_for", "pkg.plugins")


def test_one_computed_import_of_a_top_level_module_suggests_visiting_that_module() -> None:
    usage = {T: frozenset({Use("pkg/helper.py", "imports", "pkg/registry.py", "pkg.helper")})}
    [finding] = compare(usage, {T: _closure("pkg/registry.py")}).findings
    assert finding.rule == Rule("pkg/registry.py", "visit", "pkg/helper.py")


def test_modules_imported_by_name_from_one_package_suggest_all_its_submodules() -> None:
    usage = {
        T: frozenset(
            {
                Use("pkg/plugins/a.py", "imports", "pkg/registry.py", "pkg.plugins.a"),
                Use("pkg/plugins/b.py", "imports", "pkg/registry.py", "pkg.plugins.b"),
                Use("pkg/plugins/__init__.py", "imports", "pkg/registry.py", "pkg.plugins"),
            }
        )
    }
    verdict = compare(usage, {T: _closure("pkg/registry.py")})
    assert {f.rule for f in verdict.findings} == {
        Rule("pkg/registry.py", "visit_python_all_submodules_for", "pkg.plugins")
    }
    assert len(verdict.findings) == 3


def test_a_cached_module_used_later_is_attributed_to_the_module_that_imported_it_first() -> None:
    first, later = "tests/test_a.py", "tests/test_b.py"
    usage = {
        first: frozenset({Use("pkg/helper.py", "imports", "pkg/registry.py", "pkg.helper")}),
        # sys.modules served it to the later file: only its code running was seen.
        later: frozenset({Use("pkg/helper.py", "runs", None, "pkg.helper")}),
    }
    closures = {first: frozenset({first, "pkg/registry.py"}), later: frozenset({later, "pkg/registry.py"})}
    verdict = compare(usage, closures)
    assert {(f.test_file, f.rule) for f in verdict.findings} == {
        (first, Rule("pkg/registry.py", "visit", "pkg/helper.py")),
        (later, Rule("pkg/registry.py", "visit", "pkg/helper.py")),
    }


def test_a_module_with_no_known_importer_is_added_to_the_test_file() -> None:
    usage = {T: frozenset({Use("pkg/helper.py", "runs", None, "pkg.helper")})}
    [finding] = compare(usage, {T: _closure()}).findings
    assert finding.rule == Rule(T, "visit", "pkg/helper.py")


def test_test_files_outside_the_analysis_are_not_analyzed_and_not_judged() -> None:
    usage = {
        T: frozenset({Use("pkg/report.py", "imports", T)}),
        "scripts/check.py": frozenset({Use("data/x.json", "reads", "scripts/check.py")}),
    }
    verdict = compare(usage, {T: _closure("pkg/report.py")})
    assert verdict.not_analyzed == ("scripts/check.py",)
    assert verdict.findings == ()


def test_findings_group_by_the_rule_that_fixes_them() -> None:
    other = "tests/test_other.py"
    use = Use("pkg/templates/a.html", "reads", "pkg/report.py")
    second = Use("pkg/templates/b.html", "reads", "pkg/report.py")
    usage = {T: frozenset({use}), other: frozenset({use, second})}
    closures = {T: _closure("pkg/report.py"), other: frozenset({other, "pkg/report.py"})}
    verdict = compare(usage, closures)
    groups = verdict.by_rule()
    assert list(groups) == [Rule("pkg/report.py", "visit_siblings", "templates/*.html")]
    assert len(groups[Rule("pkg/report.py", "visit_siblings", "templates/*.html")]) == 3
    assert verdict.test_files_with_findings == (other, T)
    assert verdict.missing_files == ("pkg/templates/a.html", "pkg/templates/b.html")
