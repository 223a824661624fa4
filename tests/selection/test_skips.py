"""Which skips may be cached: the source must show every mark, and every condition must be the key's."""

from __future__ import annotations

import pytest

from dryci.selection.skips import StaticMark, module_skip_is_cacheable, static_marks

HEADER = """\
import os
import platform
import sys

import pytest

try:
    import numpy
    HAS_NUMPY = True
except ImportError:
    HAS_NUMPY = False

WIN = platform.system() == "Windows"
requires_numpy = pytest.mark.skipif(not HAS_NUMPY, reason="needs numpy")
SLOW = os.environ.get("SLOW")
"""


def marks(decorators: str, name: str = "test_it") -> list[StaticMark] | None:
    source = HEADER + f"\n{decorators}\ndef {name}():\n    pass\n"
    return static_marks(source, [], name)


@pytest.mark.parametrize(
    "decorator",
    [
        "@pytest.mark.skip",
        "@pytest.mark.skip(reason='never')",
        "@pytest.mark.skipif(sys.platform == 'win32', reason='posix')",
        "@pytest.mark.skipif(sys.version_info < (3, 10), reason='new syntax')",
        "@pytest.mark.skipif(WIN, reason='posix')",
        "@pytest.mark.skipif(not HAS_NUMPY, reason='needs numpy')",
        "@requires_numpy",
        "@pytest.mark.skipif('sys.platform.startswith(\"win\")', reason='posix')",
        "@pytest.mark.xfail(reason='known bug')",
        "@pytest.mark.xfail(platform.python_implementation() == 'PyPy', reason='pypy')",
    ],
)
def test_conditions_the_key_decides_are_safe(decorator: str) -> None:
    found = marks(decorator)
    assert found is not None and len(found) == 1 and found[0].safe, found


@pytest.mark.parametrize(
    "decorator",
    [
        "@pytest.mark.skipif(SLOW is None, reason='slow')",
        "@pytest.mark.skipif(os.environ.get('CI'), reason='not on CI')",
        "@pytest.mark.skipif(not os.path.exists('/usr/bin/dot'), reason='needs graphviz')",
        "@pytest.mark.skipif(__import__('time').time() > 0, reason='clock')",
        "@pytest.mark.skipif('os.environ.get(\"CI\")', reason='string condition')",
        "@pytest.mark.skipif(undefined_name, reason='unknown')",
    ],
)
def test_conditions_reading_outside_the_key_are_not(decorator: str) -> None:
    found = marks(decorator)
    assert found is not None and not all(mark.safe for mark in found), found


def test_module_and_class_marks_count_too() -> None:
    source = HEADER + (
        "\npytestmark = pytest.mark.skipif(WIN, reason='posix')\n\n"
        "@pytest.mark.skipif(SLOW is None, reason='slow')\n"
        "class TestIt:\n    def test_it(self):\n        pass\n"
    )
    found = static_marks(source, ["TestIt"], "test_it")
    assert found is not None and [m.name for m in found] == ["skipif", "skipif"]
    assert [m.safe for m in found] == [True, False]


def test_a_name_bound_twice_or_in_a_loop_is_not_shown() -> None:
    source = (
        HEADER
        + "\nfor WIN in (True,):\n    pass\n\n"
        + "@pytest.mark.skipif(WIN, reason='x')\ndef test_it():\n    pass\n"
    )
    assert static_marks(source, [], "test_it") == [StaticMark("skipif", False)]


def test_a_test_the_source_does_not_show_gives_no_answer() -> None:
    assert marks("@pytest.mark.skip", name="test_other") is not None
    assert static_marks(HEADER, [], "test_missing") is None
    assert static_marks("def broken(:\n", [], "test_it") is None


def test_a_module_level_importorskip_is_cacheable_and_a_plain_skip_is_not() -> None:
    assert module_skip_is_cacheable("import pytest\nnp = pytest.importorskip('numpy')\n")
    assert module_skip_is_cacheable("import pytest\npytest.importorskip('numpy')\n")
    assert not module_skip_is_cacheable("import pytest\npytest.skip('no', allow_module_level=True)\n")


COMPAT = {
    "pkg.compat": "import os\nimport sys\n\nWIN = sys.platform.startswith('win')\nCI = os.environ.get('CI')\n"
    "from pkg.deeper import PY2\n",
    "pkg.deeper": "import sys\n\nPY2 = sys.version_info < (3,)\n",
}
IMPORTING = "import pytest\nfrom pkg.compat import WIN, CI, PY2 as OLD\n\n"


def imported_mark(condition: str, resolve=COMPAT.get) -> StaticMark:
    source = IMPORTING + f"@pytest.mark.skipif({condition}, reason='r')\ndef test_it():\n    pass\n"
    found = static_marks(source, [], "test_it", resolve)
    assert found is not None and len(found) == 1, found
    return found[0]


def test_a_name_imported_from_a_project_module_is_safe_when_bound_there_to_what_the_key_holds() -> None:
    assert imported_mark("WIN").safe
    assert imported_mark("not OLD").safe  # through a second module


def test_an_imported_name_is_unsafe_when_its_module_reads_outside_the_key_or_cannot_be_shown() -> None:
    assert not imported_mark("CI").safe
    assert not imported_mark("WIN", resolve=lambda module: None).safe  # not in the closure
    source = IMPORTING + "@pytest.mark.skipif(WIN, reason='r')\ndef test_it():\n    pass\n"
    assert static_marks(source, [], "test_it") == [StaticMark("skipif", False)]  # no resolver


def test_a_mark_object_imported_from_elsewhere_is_not_shown() -> None:
    source = "import pytest\nfrom pkg.marks import slow\n\n@slow\ndef test_it():\n    pass\n"
    assert static_marks(source, [], "test_it", COMPAT.get) == []  # pytest's marks will not match
