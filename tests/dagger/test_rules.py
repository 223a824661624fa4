from __future__ import annotations

from dryci.dagger.rules import folders_up, substitute


def test_substitute_replaces_numbered_groups() -> None:
    assert substitute("data/$1/$2.json", ("all", "a", "b")) == "data/a/b.json"
    assert substitute("$0|$3", ("whole", "x")) == "whole|$3"
    assert substitute("$1", None) == "$1"


def test_folders_up_walks_to_the_base() -> None:
    assert folders_up("a/b/c.py") == ["a/b", "a", "."]
    assert folders_up("c.py") == ["."]


def test_visit_takes_globs_from_the_base(write, run) -> None:
    write({"tests/test_a.py": "", "docs/x.md": "", "docs/deep/y.md": "", "docs/z.txt": ""})
    analysis = run("""
        inputs: "tests/test_*.py"
        path_rules:
          "tests/*.py":
            visit: "docs/**/*.md"
    """)
    assert analysis.relations["tests/test_a.py"] == ("docs/deep/y.md", "docs/x.md")


def test_visit_siblings_globs_from_the_files_folder(write, run) -> None:
    write(
        {"tests/test_a.py": "", "tests/data/in.json": "", "tests/data/sub/more.json": "", "data/no.json": ""}
    )
    analysis = run("""
        inputs: "tests/test_*.py"
        path_rules:
          "tests/*.py":
            visit_siblings: ["data/**/*.json", "missing.txt"]
    """)
    assert analysis.relations["tests/test_a.py"] == ("tests/data/in.json", "tests/data/sub/more.json")


def test_visit_grand_siblings_looks_in_every_parent_folder(write, run) -> None:
    write(
        {
            "a/b/c/test_x.py": "",
            "a/b/c/settings.ini": "",
            "a/settings.ini": "",
            "settings.ini": "",
            "other/settings.ini": "",
        }
    )
    analysis = run("""
        inputs: "**/test_*.py"
        path_rules:
          "**/test_*.py":
            visit_grand_siblings: "settings.ini"
    """)
    assert analysis.relations["a/b/c/test_x.py"] == ("a/b/c/settings.ini", "a/settings.ini", "settings.ini")


def test_visit_python_all_submodules_for_a_named_package(write, run) -> None:
    write(
        {
            "tests/test_p.py": "import app.registry\n",
            "app/__init__.py": "",
            "app/registry.py": "",
            "app/plugins/__init__.py": "",
            "app/plugins/one.py": "",
            "app/plugins/deep/two.py": "",
            "app/plugins/readme.txt": "",
        }
    )
    analysis = run("""
        inputs: "tests/test_*.py"
        root_python_packages: ["app"]
        path_rules:
          "tests/*.py":
            visit_python_all_submodules_for: "app.plugins"
    """)
    assert analysis.relations["tests/test_p.py"] == (
        "app/plugins/__init__.py",
        "app/plugins/deep/two.py",
        "app/plugins/one.py",
    )


def test_regex_rule_runs_actions_once_per_match_with_groups(write, run) -> None:
    write(
        {
            "tests/test_r.py": 'load_fixture("one")\nload_fixture("two")\nx = 1\n',
            "tests/fixtures/one.json": "",
            "tests/fixtures/two.json": "",
            "tests/fixtures/three.json": "",
        }
    )
    analysis = run(r"""
        inputs: "tests/test_*.py"
        path_rules:
          "tests/*.py":
            regex_rules:
              'load_fixture\("(\w+)"\)':
                visit_siblings: "fixtures/$1.json"
    """)
    assert analysis.relations["tests/test_r.py"] == ("tests/fixtures/one.json", "tests/fixtures/two.json")


def test_regex_rule_can_resolve_a_module_by_its_imported_name(write, run) -> None:
    write(
        {
            "tests/test_r.py": "from app import plugins\nload_all(plugins)\n",
            "app/__init__.py": "",
            "app/plugins/__init__.py": "",
            "app/plugins/p1.py": "",
        }
    )
    analysis = run(r"""
        inputs: "tests/test_*.py"
        root_python_packages: ["app"]
        path_rules:
          "tests/*.py":
            regex_rules:
              '(?m:^load_all\((\w+)\))':
                visit_python_all_submodules_for: "$1"
    """)
    assert set(analysis.relations["tests/test_r.py"]) == {"app/plugins/__init__.py", "app/plugins/p1.py"}


def test_exclude_skips_the_block_for_matching_files(write, run) -> None:
    write({"tests/test_a.py": 'x("d")\n', "tests/test_b.py": 'x("d")\n', "tests/d": "", "tests/e": ""})
    analysis = run(r"""
        inputs: "tests/test_*.py"
        path_rules:
          "tests/*.py":
            visit_siblings: e
            exclude: "tests/test_b.py"
            regex_rules:
              'x\("(\w)"\)':
                visit_siblings: "$1"
                exclude: "**/test_a.py"
    """)
    assert analysis.relations["tests/test_a.py"] == ("tests/e",)
    assert analysis.relations["tests/test_b.py"] == ("tests/d",)


def test_global_deps_and_global_exclude_apply_to_every_file(write, run) -> None:
    write(
        {
            "tests/test_a.py": "import app.gen_pb2\nimport app.core\n",
            "app/__init__.py": "",
            "app/core.py": "",
            "app/gen_pb2.py": "",
            "lock.txt": "",
        }
    )
    analysis = run("""
        inputs: "tests/test_*.py"
        global_deps: lock.txt
        global_exclude: "**/*_pb2.py"
        path_rules:
          "**/*.py":
            visit_imported_python_modules: true
    """)
    assert analysis.relations["tests/test_a.py"] == ("app/__init__.py", "app/core.py", "lock.txt")
    assert analysis.relations["app/core.py"] == ("lock.txt",)
    assert "app/gen_pb2.py" not in analysis.relations


def test_inputs_depend_on_conftest_and_package_inits_up_to_the_base(write, run) -> None:
    write(
        {
            "conftest.py": "",
            "tests/conftest.py": "",
            "tests/__init__.py": "",
            "tests/unit/__init__.py": "",
            "tests/unit/test_u.py": "",
            "tests/unit/helper.py": "",
            "other/conftest.py": "",
        }
    )
    analysis = run('inputs: "tests/**/test_*.py"\n')
    assert analysis.relations["tests/unit/test_u.py"] == (
        "conftest.py",
        "tests/__init__.py",
        "tests/conftest.py",
        "tests/unit/__init__.py",
    )


def test_a_symlink_loop_does_not_hang_a_doublestar_glob(write, run, tmp_path) -> None:
    write({"tests/test_a.py": "", "data/x.json": "", "shared/y.json": ""})
    (tmp_path / "data" / "loop").symlink_to(tmp_path / "data")
    (tmp_path / "data" / "up").symlink_to(tmp_path)
    (tmp_path / "data" / "linked").symlink_to(tmp_path / "shared")
    analysis = run("""
        inputs: "tests/test_*.py"
        path_rules:
          "tests/*.py":
            visit: "data/**/*.json"
    """)
    assert analysis.relations["tests/test_a.py"] == ("data/linked/y.json", "data/x.json")
