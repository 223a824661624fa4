from __future__ import annotations

import textwrap

import pytest

from dryci.exceptions import AnalysisError
from dryci.recording.units import MODULE, parse_units

BASE = textwrap.dedent(
    """
    import functools

    LIMIT = 3

    def deco(f):
        return f

    @deco
    def add(x, y=1):
        def inner():
            return y
        return x + inner()

    class Shape:
        sides = 0

        def area(self):
            return 0

        @property
        def name(self):
            return "shape"

    if LIMIT > 2:
        def pick():
            return 1
    else:
        def pick():
            return 2
    """
)


def units_of(source: str):
    return parse_units(source, "pkg/mod.py")


def test_every_outermost_function_and_method_is_a_unit():
    names = [f.qualname for f in units_of(BASE).functions]
    assert names == ["deco", "add", "Shape.area", "Shape.name", "pick", "pick#2"]


def test_an_edit_inside_a_body_changes_only_that_unit():
    before, after = units_of(BASE), units_of(BASE.replace("return x + inner()", "return x - inner()"))
    assert before.module_fingerprint == after.module_fingerprint
    changed = {q for q, fp in after.fingerprints().items() if before.fingerprints()[q] != fp}
    assert changed == {"add"}


def test_a_nested_function_belongs_to_the_body_around_it():
    before, after = units_of(BASE), units_of(BASE.replace("return y", "return -y"))
    changed = {q for q, fp in after.fingerprints().items() if before.fingerprints()[q] != fp}
    assert changed == {"add"}
    assert before.module_fingerprint == after.module_fingerprint


@pytest.mark.parametrize(
    "old, new",
    [
        ("def add(x, y=1):", "def add(x, y=2):"),  # default argument
        ("def add(x, y=1):", "def add(x, z, y=1):"),  # signature
        ("@deco\ndef add", "def add"),  # decorator
        ("LIMIT = 3", "LIMIT = 4"),  # global
        ("    sides = 0", "    sides = 1"),  # class body
        ("import functools", "import os"),  # import
        (
            "        return 0\n",
            "        return 0\n\n    def __len__(self):\n        return 1\n",
        ),  # new method
        ("    @property\n", ""),  # decorator of a method
    ],
)
def test_module_level_changes_change_the_module_fingerprint(old, new):
    assert old in BASE
    assert units_of(BASE).module_fingerprint != units_of(BASE.replace(old, new)).module_fingerprint


def test_comments_blank_lines_and_moves_change_no_fingerprint():
    moved = BASE.replace("LIMIT = 3\n", "LIMIT = 3  # the limit\n\n\n")
    assert units_of(BASE).module_fingerprint == units_of(moved).module_fingerprint
    assert units_of(BASE).fingerprints() == units_of(moved).fingerprints()


def test_a_docstring_is_module_level_since_it_is_read_without_calling_the_function():
    documented = BASE.replace("def deco(f):\n", 'def deco(f):\n    """Doc."""\n')
    redocumented = documented.replace('"""Doc."""', '"""Other."""')
    assert units_of(documented).fingerprints() == units_of(redocumented).fingerprints()
    assert units_of(documented).module_fingerprint != units_of(redocumented).module_fingerprint


def test_code_maps_to_the_function_that_holds_its_first_line():
    units = units_of(BASE)
    lines = BASE.splitlines()
    decorated = lines.index("@deco") + 1
    inner = lines.index("    def inner():") + 1
    area = lines.index("    def area(self):") + 1
    assert units.unit_at(decorated) == "add"  # a decorated function's code starts at its decorator
    assert units.unit_at(inner) == "add"
    assert units.unit_at(area) == "Shape.area"
    assert units.unit_at(lines.index("class Shape:") + 1) == MODULE
    assert units.unit_at(1) == MODULE
    assert units.unit_at(10_000) == MODULE


def test_real_code_objects_map_to_their_units():
    namespace: dict = {}
    exec(compile(BASE, "pkg/mod.py", "exec"), namespace)
    units = units_of(BASE)
    assert units.unit_at(namespace["add"].__code__.co_firstlineno) == "add"
    assert units.unit_at(namespace["Shape"].name.fget.__code__.co_firstlineno) == "Shape.name"
    assert units.unit_at(namespace["pick"].__code__.co_firstlineno) == "pick"


def test_a_file_that_does_not_parse_raises_an_error_naming_it():
    with pytest.raises(AnalysisError) as info:
        parse_units("def broken(:\n", "pkg/broken.py")
    assert info.value.file == "pkg/broken.py"
    assert str(info.value).startswith("pkg/broken.py: cannot parse")


def test_null_bytes_are_a_parse_failure_too():
    with pytest.raises(AnalysisError):
        parse_units(b"x = 1\0\n", "pkg/nul.py")


@pytest.mark.parametrize(
    "source, inert",
    [
        ("", True),
        (
            '"""Docstring."""\n\nfrom __future__ import annotations\nimport os\nimport os.path as p\npass\n',
            True,
        ),
        ("from os import path\n", False),
        ("X = 1\n", False),
        ("def f():\n    return 1\n", False),
        ("print('hi')\n", False),
    ],
    ids=["empty", "docstring-and-imports", "from-import", "assignment", "function", "call"],
)
def test_only_a_module_whose_import_computes_nothing_is_inert(source, inert):
    assert parse_units(source, "m.py").inert is inert
