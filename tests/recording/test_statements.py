"""Module-level statements: which ones a change can be narrowed for, and the names code refers to."""

from __future__ import annotations

import pytest

from dryci.recording.statements import code_names
from dryci.recording.units import parse_units


def statements(source: str) -> dict[str, tuple[bool, frozenset[str]]]:
    return {st.key: (st.safe, st.defines) for st in parse_units(source, "m.py").statements}


@pytest.mark.parametrize(
    "source, key, defines",
    [
        ("X = 1", "assign X", {"X"}),
        ("X: int = 1", "annassign X", {"X"}),
        ("A, *B = 1, 2, 3", "assign A,B", {"A", "B"}),
        ("import os.path", "import os", {"os"}),
        ("from a import b as c", "importfrom c", {"c"}),
        ("T = TypeVar('T')", "assign T", {"T"}),
        ("X = {'a': (1, 2)}[k] + Y.z", "assign X", {"X"}),
        ("def f(x=1, *, y: int = 2) -> int: return x", "functiondef f", {"f"}),
        ("@property\ndef f(self): pass", "functiondef f", {"f"}),
        ("if TYPE_CHECKING:\n    import a\nelse:\n    B = 1", "if B,a", {"a", "B"}),
        ("try:\n    import a\nexcept ImportError:\n    a = None", "try a", {"a"}),
        ("__all__ = ['f', 'g']", "assign __all__,f,g", {"__all__", "f", "g"}),
    ],
)
def test_statements_that_only_bind_names_are_safe(source, key, defines):
    assert statements(source)[key] == (True, frozenset(defines))


@pytest.mark.parametrize(
    "source, key",
    [
        ("X = compute()", "assign X"),
        ("X = lambda: 1", "assign X"),
        ("obj.attr = 1", "assign -"),
        ("d['k'] = 1", "assign -"),
        ("register(f)", "expr -"),
        ("@cache\ndef f(): pass", "functiondef f"),
        ("def f(x=make()): pass", "functiondef f"),
        ("for i in range(3):\n    X = i", "for X,i"),
        ("with open('f') as fh:\n    X = 1", "with X,fh"),
        ("def pytest_configure(config): pass", "functiondef pytest_configure"),
        ("pytestmark = []", "assign pytestmark"),
        ("def __getattr__(name): pass", "functiondef __getattr__"),
    ],
)
def test_statements_that_call_store_into_objects_or_that_pytest_reads_are_unsafe(source, key):
    assert statements(source)[key][0] is False


def test_a_class_is_its_header_and_one_statement_per_member():
    found = statements(
        "class K(Base):\n    '''Doc.'''\n    size = 1\n"
        "    def run(self): pass\n    def __eq__(self, o): pass\n"
    )
    assert found == {
        "class K": (True, frozenset({"K"})),
        # a field or a dunder counts for the class too: the class may read its body as a whole
        "K.assign K,size": (True, frozenset({"K", "size"})),
        "K.functiondef run": (True, frozenset({"run"})),
        "K.functiondef K,__eq__": (True, frozenset({"K", "__eq__"})),
    }


def test_members_of_a_class_with_a_call_in_its_header_are_unsafe():
    found = statements("class K(make_base()):\n    def run(self): pass\n")
    assert found["class K"][0] is False
    assert found["K.functiondef run"][0] is False


def test_a_dataclass_member_counts_for_the_class():
    found = statements("@dataclass(frozen=True)\nclass K:\n    x: int = 1\n    def run(self): pass\n")
    assert found["class K"] == (True, frozenset({"K"}))
    assert found["K.functiondef K,run"] == (True, frozenset({"K", "run"}))


def test_a_docstring_change_keeps_the_doc_free_fingerprint():
    before = parse_units('def f():\n    """One."""\n    return 1\n', "m.py").statements[0]
    after = parse_units('def f():\n    """Two."""\n    return 1\n', "m.py").statements[0]
    assert before.fingerprint != after.fingerprint
    assert before.doc_free == after.doc_free
    assert before.plain_doc


def test_an_import_of_several_names_is_one_statement_per_name():
    found = statements("from m import a, b")
    assert found == {"importfrom a": (True, frozenset({"a"})), "importfrom b": (True, frozenset({"b"}))}


def test_code_names_are_every_identifier_of_the_text_bare_or_after_a_dot():
    bare, attrs, dynamic = code_names(
        "x = RATE * obj.scale  # per TAX\ngetattr(self.obj, 'width')\nprint('a b!')"
    )
    assert bare == {"RATE", "obj", "x", "getattr", "print", "TAX", "per", "a", "b", "self", "width"}
    assert attrs == {"scale", "obj", "width"}  # a quoted identifier may be read as an attribute
    assert dynamic is False


@pytest.mark.parametrize(
    "source", ["getattr(obj, name)", "hasattr(f(a, b), 'x')", "vars(obj)", "obj.__dict__", "globals()[n]"]
)
def test_reading_names_by_string_is_dynamic(source):
    assert code_names(source)[2] is True
