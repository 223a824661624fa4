from __future__ import annotations

from pathlib import Path

import pytest

from dryci.dagger.imports import regex_scan, scan_imports

CONFIG = """
inputs: "tests/test_*.py"
path_rules:
  "**/*.py":
    visit_imported_python_modules: true
"""

PACKAGE = {
    "pkg/__init__.py": "",
    "pkg/a.py": "",
    "pkg/b.py": "",
    "pkg/c.py": "",
    "pkg/sub/__init__.py": "",
    "pkg/sub/deep.py": "",
    "pkg/sub/other.py": "",
    "pkg/dyn.py": "",
    "pkg/lazy.py": "",
    "other/__init__.py": "",
    "other/x.py": "",
}


def deps_of(
    write, run, test_source: str, extra: dict[str, str] | None = None, config: str = CONFIG
) -> set[str]:
    write({**PACKAGE, **(extra or {}), "tests/test_it.py": test_source})
    analysis = run(config)
    return set(analysis.relations["tests/test_it.py"])


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import pkg.a\n", {"pkg/__init__.py", "pkg/a.py"}),
        ("import pkg.a, other.x as ox\n", {"pkg/__init__.py", "pkg/a.py", "other/__init__.py", "other/x.py"}),
        ("from pkg import (\n    a,\n    b as bee,\n)\n", {"pkg/__init__.py", "pkg/a.py", "pkg/b.py"}),
        ("from pkg.sub.deep import thing\n", {"pkg/__init__.py", "pkg/sub/__init__.py", "pkg/sub/deep.py"}),
        ("def f():\n    import pkg.a\n", {"pkg/__init__.py", "pkg/a.py"}),
        (
            "try:\n    import pkg.a\nexcept ImportError:\n    import pkg.b\n",
            {"pkg/__init__.py", "pkg/a.py", "pkg/b.py"},
        ),
        (
            "import sys\nif sys.version_info > (3,):\n    from pkg import a\nelse:\n    from pkg import b\n",
            {"pkg/__init__.py", "pkg/a.py", "pkg/b.py"},
        ),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.c import C\n",
            {"pkg/__init__.py", "pkg/c.py"},
        ),
        ("import importlib\nm = importlib.import_module('pkg.dyn')\n", {"pkg/__init__.py", "pkg/dyn.py"}),
        (
            "from importlib import import_module\nm = import_module('pkg.dyn')\n",
            {"pkg/__init__.py", "pkg/dyn.py"},
        ),
        ("m = __import__('pkg.lazy')\n", {"pkg/__init__.py", "pkg/lazy.py"}),
        (
            "class T:\n    def test(self):\n        with open('x'):\n            from pkg import c\n",
            {"pkg/__init__.py", "pkg/c.py"},
        ),
        ("import os, json\n", set()),
    ],
)
def test_every_import_form_resolves_to_project_files(write, run, source: str, expected: set[str]) -> None:
    assert deps_of(write, run, source) == expected


def test_modules_named_in_pytest_plugins_are_dependencies_of_the_conftest(write, run) -> None:
    write(
        {
            **PACKAGE,
            "tests/conftest.py": 'pytest_plugins = [\n    "pkg.a",\n    "other.x",\n]\n',
            "tests/test_it.py": "",
        }
    )
    analysis = run(CONFIG)
    assert set(analysis.relations["tests/conftest.py"]) == {
        "pkg/__init__.py",
        "pkg/a.py",
        "other/__init__.py",
        "other/x.py",
    }


def test_relative_imports_resolve_against_the_importing_files_folder(write, run) -> None:
    write(
        {
            **PACKAGE,
            "pkg/sub/deep.py": (
                "from . import other\nfrom .. import a\nfrom ..b import name\nfrom ...outside import x\n"
            ),
            "tests/test_it.py": "import pkg.sub.deep\n",
        }
    )
    analysis = run(CONFIG)
    assert set(analysis.relations["pkg/sub/deep.py"]) == {
        "pkg/__init__.py",
        "pkg/sub/__init__.py",
        "pkg/sub/other.py",
        "pkg/a.py",
        "pkg/b.py",
    }


def test_relative_import_in_a_package_init(write, run) -> None:
    write(
        {
            **PACKAGE,
            "pkg/__init__.py": "from .a import thing\nfrom .sub import deep\n",
            "tests/test_it.py": "import pkg\n",
        }
    )
    assert set(run(CONFIG).relations["pkg/__init__.py"]) == {
        "pkg/__init__.py",
        "pkg/a.py",
        "pkg/sub/__init__.py",
        "pkg/sub/deep.py",
    }


def test_namespace_packages_without_init_resolve(write, run) -> None:
    deps = deps_of(
        write, run, "import ns.mod\nfrom ns.inner import leaf\n", {"ns/mod.py": "", "ns/inner/leaf.py": ""}
    )
    assert deps == {"ns/mod.py", "ns/inner/leaf.py"}


def test_compiled_and_stub_siblings_are_visited_like_the_original(write, run) -> None:
    extra = {f"fast/speedy{suffix}": "" for suffix in (".pyi", ".pyx", ".pxd", ".c")}
    assert deps_of(write, run, "import fast.speedy\n", extra) == {
        "fast/speedy.pyi",
        "fast/speedy.pyx",
        "fast/speedy.pxd",
        "fast/speedy.c",
    }


def test_root_python_packages_limits_absolute_imports(write, run) -> None:
    config = CONFIG + 'root_python_packages: ["pkg"]\n'
    assert deps_of(write, run, "import pkg.a\nimport other.x\n", config=config) == {
        "pkg/__init__.py",
        "pkg/a.py",
    }


def test_python_roots_are_import_roots(write, run) -> None:
    config = CONFIG + 'python_roots: ["src", "."]\n'
    deps = deps_of(
        write,
        run,
        "import lib.core\nimport pkg.a\n",
        {"src/lib/__init__.py": "", "src/lib/core.py": ""},
        config=config,
    )
    assert deps == {"src/lib/__init__.py", "src/lib/core.py", "pkg/__init__.py", "pkg/a.py"}


def test_a_syntax_error_elsewhere_in_a_file_loses_no_import(write, run) -> None:
    write(
        {
            **PACKAGE,
            "pkg/a.py": "import pkg.b\ndef broken(:\n    from .c import x\n",
            "tests/test_it.py": "import pkg.a\n",
        }
    )
    analysis = run(CONFIG)
    assert set(analysis.relations["pkg/a.py"]) == {"pkg/__init__.py", "pkg/b.py", "pkg/c.py"}
    assert analysis.warnings == ()


def test_an_unparsable_import_statement_is_scanned_conservatively_with_a_warning(write, run) -> None:
    write(
        {**PACKAGE, "pkg/a.py": "import pkg.b\nfrom pkg import (c,\n", "tests/test_it.py": "import pkg.a\n"}
    )
    analysis = run(CONFIG)
    assert set(analysis.relations["pkg/a.py"]) >= {"pkg/__init__.py", "pkg/b.py"}
    assert analysis.warnings == ("pkg/a.py: syntax error at line 2; used a conservative import scan",)


def test_trailing_comment_words_of_a_one_line_from_import_are_tried_too() -> None:
    refs, _, _ = scan_imports(b"from pkg import a  # not pkg.core\nimport b  # c\n")
    assert refs == ((0, "pkg", ("a", "not", "pkg", "core")), (0, "b", ()))


def test_import_looking_text_in_strings_is_no_syntax_error() -> None:
    _, _, line = scan_imports(b'M = ("import cmath; from cmath import *",)\nD = """\nfrom x import (\n"""\n')
    assert line is None


def test_import_statements_after_semicolons_and_colons_count() -> None:
    refs, _, _ = scan_imports(b"x = 1; import a.b\nif x: from c import d\ntry: import e\nexcept E: pass\n")
    assert refs == ((0, "a.b", ()), (0, "c", ("d",)), (0, "e", ()))


def test_prose_and_identifiers_that_contain_import_are_not_imports() -> None:
    refs, _, line = scan_imports(
        b'"""Docs.\n\nfrom the start we import things\n"""\nreimport = 1\nimportant = 2\nx.import_it()\n'
    )
    assert refs == () and line is None


def test_backslash_continuations_and_comments_in_parenthesised_lists() -> None:
    refs, _, _ = scan_imports(b"from a import \\\n    b\nfrom c import (  # why\n    d,  # note\n    e,\n)\n")
    # Words of comments are tried as submodules too, as repo_dagger 1.4.0 does.
    assert refs == ((0, "a", ("b",)), (0, "c", ("d", "e", "why", "note")))


def test_regex_scan_reads_every_import_form() -> None:
    refs, _idents, line = regex_scan(
        b"import a.b, c as d\nfrom ..up import (x,\n  y as z)\n  from e import *\nm = import_module('f.g')\n",
        error_line=3,
    )
    assert line == 3
    assert (0, "a.b", ()) in refs and (0, "c", ()) in refs
    assert (2, "up", ("x", "y", "z")) in refs
    assert (0, "f.g", ()) in refs
    assert any(ref[1] == "e" for ref in refs)


def test_ast_scan_records_names_for_submodule_lookups() -> None:
    _refs, idents, line = scan_imports(b"import pkg.sub as s\nfrom pkg import plugins\nfrom . import rel\n")
    assert line is None
    assert dict(idents)["s"] == (0, "pkg.sub")
    assert dict(idents)["plugins"] == (0, "pkg.plugins")
    assert dict(idents)["rel"] == (1, "rel")


def test_parse_warnings_in_scanned_files_are_silenced() -> None:
    # "\d" is an invalid escape: Python warns while parsing; pytest turns warnings into errors here.
    refs, _, line = scan_imports(b'import pkg.a\nx = "\\d"\n')
    assert line is None and refs == ((0, "pkg.a", ()),)


def test_undecodable_source_is_scanned_conservatively(tmp_path: Path) -> None:
    refs, _, line = scan_imports(b"import pkg.a\n\x00\xff\n")
    assert line is None
    assert refs == ((0, "pkg.a", ()),)


def test_importorskip_with_a_literal_name_counts_as_an_import() -> None:
    refs, _, _ = scan_imports(b"import pytest\n\nnp = pytest.importorskip('numpy')\n")
    assert (0, "numpy", ()) in refs
