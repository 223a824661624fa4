from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dryci.cli import main as dryci_main
from dryci.dagger import analyze, load_config
from dryci.dagger.cli import main
from dryci.dagger.report import go_json
from dryci.exceptions import AnalysisError

CONFIG = """
inputs: "tests/test_*.py"
global_deps: lock.txt
path_rules:
  "**/*.py":
    visit_imported_python_modules: true
"""


@pytest.fixture
def project(write, tmp_path: Path) -> Path:
    write(
        {
            "repo_dagger.yaml": CONFIG,
            "lock.txt": "",
            "app/__init__.py": "",
            "app/core.py": "from . import util\n",
            "app/util.py": "",
            "app/spare.py": "",
            "tests/test_core.py": "import app.core\n",
            "tests/test_spare.py": "import app.spare\n",
        }
    )
    return tmp_path


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_dep_hashes_are_written_as_go_style_json(project: Path, capsys) -> None:
    out_file = project / "hashes.json"
    code, _, _ = _run(
        ["-config", str(project / "repo_dagger.yaml"), "-out-dep-hashes", str(out_file)], capsys
    )
    assert code == 0
    text = out_file.read_text(encoding="utf-8")
    expected = dict(analyze(load_config(project / "repo_dagger.yaml")).hashes)
    assert text == json.dumps(expected, separators=(",", ":"), sort_keys=True) + "\n"
    assert list(json.loads(text)) == ["tests/test_core.py", "tests/test_spare.py"]


def test_relations_list_every_file_with_null_for_no_dependencies(project: Path, capsys) -> None:
    (project / "repo_dagger.yaml").write_text(CONFIG.replace("global_deps: lock.txt\n", ""), encoding="utf-8")
    code, out, _ = _run(
        ["--config", str(project / "repo_dagger.yaml"), "--out-relations", "/dev/stdout"], capsys
    )
    assert code == 0
    assert out.endswith("}\n") and " " not in out
    assert json.loads(out) == {
        "app/__init__.py": None,
        "app/core.py": ["app/__init__.py", "app/util.py"],
        "app/spare.py": None,
        "app/util.py": None,
        "tests/test_core.py": ["app/__init__.py", "app/core.py"],
        "tests/test_spare.py": ["app/__init__.py", "app/spare.py"],
    }


def test_recursive_deps_of_one_input(project: Path, capsys) -> None:
    code, out, _ = _run(
        [
            "-config",
            str(project / "repo_dagger.yaml"),
            "-out-recursive-deps",
            "-",
            "-out-recursive-deps-for",
            "tests/test_core.py",
        ],
        capsys,
    )
    assert code == 0
    assert out == '["app/__init__.py","app/core.py","app/util.py","lock.txt","tests/test_core.py"]\n'


def test_recursive_deps_flags_must_come_together(project: Path, capsys) -> None:
    code, _, err = _run(["-config", str(project / "repo_dagger.yaml"), "-out-recursive-deps", "-"], capsys)
    assert code == 2
    assert "-out-recursive-deps and -out-recursive-deps-for must be given together" in err


def test_input_files_and_hash_salt(project: Path, capsys) -> None:
    config = str(project / "repo_dagger.yaml")
    _, plain, _ = _run(
        ["-config", config, "-input-files", "tests/test_core.py,,", "-out-dep-hashes", "-"], capsys
    )
    _, salted, _ = _run(
        ["-config", config, "-input-files=tests/test_core.py", "-hash-salt", "x", "-out-dep-hashes", "-"],
        capsys,
    )
    assert list(json.loads(plain)) == ["tests/test_core.py"]
    assert json.loads(plain) != json.loads(salted)


def test_dep_stats_are_log_lines_on_stderr(project: Path, capsys) -> None:
    config = str(project / "repo_dagger.yaml")
    code, out, err = _run(["-config", config, "-print-dep-stats"], capsys)
    assert code == 0 and out == ""
    lines = [line.split(" ", 1)[1] for line in err.splitlines()]
    assert lines == ["5\ttests/test_core.py", "4\ttests/test_spare.py"]
    _, _, err = _run(["-config", config, "-print-rev-dep-stats", "-stats-sort", "name"], capsys)
    rows = [line.split(" ", 1)[1] for line in err.splitlines()]
    assert rows == [
        "2\tapp/__init__.py",
        "1\tapp/core.py",
        "1\tapp/spare.py",
        "1\tapp/util.py",
        "2\tlock.txt",
        "1\ttests/test_core.py",
        "1\ttests/test_spare.py",
    ]


def test_config_errors_are_one_line_with_exit_code_2(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "repo_dagger.yaml"
    bad.write_text('path_rules: {"*.py": {regex_rules: {"(": {visit: x}}}}\n', encoding="utf-8")
    code, out, err = _run(["-config", str(bad)], capsys)
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f'repo_dagger: error: {bad}: path_rules."*.py".regex_rules."(": invalid regular expression: '
        "missing ), unterminated subpattern at position 0"
    ]


def test_missing_config_flag_is_a_usage_error(capsys) -> None:
    code, _, err = _run(["-out-dep-hashes", "x"], capsys)
    assert code == 2
    assert err.splitlines()[-1] == "repo_dagger: error: -config is required (path to repo_dagger.yaml)"


def test_version_flag(capsys) -> None:
    for flag in ("-v", "-version", "--version"):
        code, out, _ = _run([flag], capsys)
        assert code == 0 and out.startswith("version\t")


def test_a_file_that_vanishes_before_reading_is_an_analysis_error_naming_it(project: Path) -> None:
    config = load_config(project / "repo_dagger.yaml")
    (project / "lock.txt").unlink()
    with pytest.raises(AnalysisError) as info:
        analyze(config)
    assert info.value.file == "lock.txt"
    assert str(info.value) == "lock.txt: cannot read: No such file or directory"


def test_a_directory_named_by_a_visit_rule_is_skipped_not_read(project: Path, capsys) -> None:
    (project / "app" / "data").mkdir()
    (project / "repo_dagger.yaml").write_text(CONFIG + "    visit: app/data\n", encoding="utf-8")
    code, _, err = _run(["-config", str(project / "repo_dagger.yaml"), "-out-relations", "-"], capsys)
    assert code == 0 and err == ""


def test_go_json_escapes_like_encoding_json() -> None:
    assert go_json({"b": 1, "a<&>": ["é"]}) == '{"a\\u003c\\u0026\\u003e":["é"],"b":1}\n'


def test_the_0_1_client_protocol_works_through_a_passed_fd(project: Path) -> None:
    # pytest-dryci 0.1 runs `repo_dagger -config ... -out-dep-hashes /dev/fd/N -hash-salt S -input-files a,b`.
    script = Path(sys.executable).with_name("repo_dagger")
    read_fd, write_fd = os.pipe()
    with subprocess.Popen(
        [
            str(script),
            "-config",
            str(project / "repo_dagger.yaml"),
            "-out-dep-hashes",
            f"/dev/fd/{write_fd}",
            "-hash-salt",
            "Linux:x86_64:Debian:",
            "-input-files",
            "tests/test_core.py,tests/test_spare.py",
        ],
        pass_fds=[write_fd],
        cwd=project,
    ) as process:
        os.close(write_fd)
        with os.fdopen(read_fd, "r") as reader:
            data = json.load(reader)
    assert process.returncode == 0
    assert sorted(data) == ["tests/test_core.py", "tests/test_spare.py"]
    assert all(len(value) == 64 for value in data.values())


def test_dryci_deps_why_prints_the_chain(project: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project / "tests")
    assert dryci_main(["deps", "why", "test_core.py", "../app/util.py"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "tests/test_core.py",
        "  -> app/core.py",
        "  -> app/util.py",
    ]
    assert dryci_main(["deps", "why", "test_spare.py", "../app/util.py"]) == 1
    assert capsys.readouterr().out.strip() == "tests/test_spare.py does not depend on app/util.py"


def test_dryci_deps_hashes_closure_and_stats(project: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    assert dryci_main(["deps", "hashes", "--json"]) == 0
    hashes = json.loads(capsys.readouterr().out)
    assert dryci_main(["deps", "hashes"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{hashes[t]}  {t}" for t in sorted(hashes)]
    assert dryci_main(["deps", "closure", "tests/test_spare.py"]) == 0
    assert capsys.readouterr().out.split() == [
        "app/__init__.py",
        "app/spare.py",
        "lock.txt",
        "tests/test_spare.py",
    ]
    assert dryci_main(["deps", "stats", "--reverse", "--limit", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split() == ["2", "app/__init__.py"]


def test_dryci_deps_without_a_config_is_a_clean_error(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert dryci_main(["deps", "hashes"]) == 2
    assert "no repo_dagger.yaml" in capsys.readouterr().err


def test_cli_hashes_match_the_library_with_the_same_salt(project: Path, capsys) -> None:
    config = str(project / "repo_dagger.yaml")
    _, out, _ = _run(["-config", config, "-out-dep-hashes", "-", "-hash-salt", "s", "-no-cache"], capsys)
    assert json.loads(out) == dict(analyze(load_config(Path(config)), salt="s").hashes)


def test_dryci_deps_relations_prints_the_graph(
    project: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    assert dryci_main(["deps", "relations"]) == 0
    graph = json.loads(capsys.readouterr().out)
    assert graph["app/core.py"] == ["app/__init__.py", "app/util.py", "lock.txt"]
    assert dryci_main(["deps", "relations", "app/core.py"]) == 0
    assert capsys.readouterr().out.split() == ["app/__init__.py", "app/util.py", "lock.txt"]


def test_unwritable_output_and_unknown_recursive_target_exit_2(project: Path, capsys) -> None:
    config = str(project / "repo_dagger.yaml")
    code, _, err = _run(["-config", config, "-out-dep-hashes", str(project / "app")], capsys)
    assert code == 2
    assert err.startswith(f"repo_dagger: error: {project / 'app'}: cannot write the output file: ")
    code, _, err = _run(
        ["-config", config, "-out-recursive-deps", "-", "-out-recursive-deps-for", "nope.py"], capsys
    )
    assert code == 2
    assert err.strip().endswith("-out-recursive-deps-for: 'nope.py' is not an analyzed file")


def test_verbose_logs_progress_and_missing_inputs_are_warned(project: Path, capsys) -> None:
    config = str(project / "repo_dagger.yaml")
    code, out, err = _run(
        ["-config", config, "-verbose", "-input-files", "tests/nope.py", "-out-dep-hashes", "-"], capsys
    )
    assert code == 0
    assert out == "{}\n"
    messages = [line.split(" ", 1)[1] for line in err.splitlines()]
    assert f"Loading Config: {config}" in messages
    assert any(m.startswith("Warning: tests/nope.py: not a file under") for m in messages)
    assert "No input files found." in messages
    assert messages[-1] == "Done"
