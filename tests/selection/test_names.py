"""Module-level changes narrowed to the tests whose code uses what changed.

Each test records a pass of two tests over a small project, edits one file, and reads back which
tests re-run and why: only a change confined to names may be narrowed; anything else re-runs all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from dryci.protocol.facts import Facts, decode_facts, encode_facts
from dryci.protocol.records import decode_record, decode_snapshot, encode_snapshot
from dryci.selection.building import RecordInputs, build_record, facts_of
from dryci.selection.functions import FileVerdict, decide_file, file_change
from dryci.selection.keys import Keys
from dryci.selection.names import for_closure, resolve
from tests.selection.test_functions import digest, units

KEYS = Keys.of("config-names")
TEST = "tests/test_shop.py"

PRICES = b'''\
"""Prices."""
import math

TAX = 0.2
ROUND = 2
CURRENCY = "EUR"


def gross(net):
    """The price with tax."""
    return round(net * (1 + TAX), ROUND)


def label(amount):
    return f"{amount} {CURRENCY}"


def field_of(obj, name):
    return getattr(obj, name)


class Basket:
    size = 10

    def total(self, prices):
        return sum(prices)
'''

SHOP = b"""\
from shop.prices import CURRENCY, gross

SIGN = CURRENCY + "!"


def checkout(net):
    return gross(net)


def shout():
    return SIGN
"""

TESTS = b"""\
from shop.store import checkout, shout

def test_checkout():
    assert checkout(10) == 12

def test_shout():
    assert shout() == "EUR!"
"""

CLOSURE = {"shop/prices.py": PRICES, "shop/store.py": SHOP, TEST: TESTS, "conftest.py": b"X = 1\n"}
RAN = {
    f"{TEST}::test_checkout": [
        (TEST, "test_checkout"),
        ("shop/store.py", "checkout"),
        ("shop/prices.py", "gross"),
    ],
    f"{TEST}::test_shout": [(TEST, "test_shout"), ("shop/store.py", "shout")],
}


def run(
    closure: Mapping[str, bytes], ran: Mapping[str, list[tuple[str, str]]] = RAN, shared=()
) -> dict[str, tuple[bool, str]]:
    """Record ``RAN`` over ``CLOSURE``, then decide each test against ``closure``."""
    contents = {KEYS.file(p): KEYS.content(digest(c)) for p, c in CLOSURE.items()}
    snapshot = encode_snapshot(contents)
    sid = hashlib.blake2b(snapshot, digest_size=16).digest()
    stored = {KEYS.content(digest(c)): encode_facts(facts_of(units(p, c), KEYS)) for p, c in CLOSURE.items()}
    inputs = RecordInputs(
        TEST, frozenset(CLOSURE), len(ran), {n: (1.0, set(u)) for n, u in ran.items()}, set(shared)
    )
    body = build_record(KEYS, sid, inputs, lambda p: units(p, CLOSURE[p]), None)
    assert body is not None
    view = decode_record(body)
    old = decode_snapshot(snapshot).contents
    changes = {}
    for path, content in closure.items():
        cid = old[KEYS.file(path)]
        if cid != KEYS.content(digest(content)):
            facts = decode_facts(stored[cid])
            changes[path] = file_change(path, facts, units(path, content), KEYS, test_file=path == TEST)
    requirements = [r for change in changes.values() for r in change.requirements]
    now = {p: facts_of(units(p, c), KEYS) for p, c in closure.items()}
    reason, uses = for_closure(requirements, resolve(requirements, now, (), KEYS), closure)
    verdict = decide_file(view, KEYS.salt, KEYS.closure(closure), changes, uses)
    if reason is not None and verdict.everything is None:
        verdict = FileVerdict(view, reason, {})
    out = {}
    for node in ran:
        why = verdict.reason_for(KEYS.test(node))
        out[node.split("::")[1]] = (True, "skip") if why is None else (False, why)
    return out


def edited(path: str, old: bytes, new: bytes) -> dict[str, bytes]:
    assert old in CLOSURE[path]
    return {**CLOSURE, path: CLOSURE[path].replace(old, new)}


def test_a_constant_reruns_the_tests_whose_functions_refer_to_it():
    out = run(edited("shop/prices.py", b"TAX = 0.2", b"TAX = 0.25"))
    assert out == {
        "test_checkout": (False, "shop/prices.py: module-level TAX changed, and the test uses it"),
        "test_shout": (True, "skip"),
    }


def test_a_constant_bound_from_it_elsewhere_counts_as_the_same_change():
    # store.py: ``from shop.prices import CURRENCY`` then ``SIGN = CURRENCY + "!"``; shout() reads SIGN.
    out = run(edited("shop/prices.py", b'CURRENCY = "EUR"', b'CURRENCY = "USD"'))
    assert out["test_shout"] == (False, "shop/prices.py: module-level CURRENCY changed, and the test uses it")
    assert out["test_checkout"] == (True, "skip")


def test_a_new_import_and_a_new_constant_nothing_uses_skip_every_test():
    out = run(edited("shop/prices.py", b"import math\n", b"import math\nimport os\nLIMIT = 5\n"))
    assert all(skip for skip, _ in out.values())


def test_a_docstring_counts_only_for_tests_that_read_docstrings():
    closure = edited("shop/prices.py", b'"""The price with tax."""', b'"""The price, tax included."""')
    assert all(skip for skip, _ in run(closure).values())
    reader = {
        **closure,
        "shop/store.py": SHOP.replace(b"    return gross(net)", b"    return gross.__doc__ and gross(net)"),
    }
    out = run(reader)
    assert out["test_checkout"][0] is False
    assert out["test_checkout"][1].startswith("shop/store.py::checkout changed")


READER = SHOP.replace(
    b"    return SIGN", b"    from shop import prices\n\n    return field_of(prices, WHICH)"
)
RAN_READER = {**RAN, f"{TEST}::test_shout": [*RAN[f"{TEST}::test_shout"], ("shop/prices.py", "field_of")]}


def run_reader(old: bytes, new: bytes, ran=RAN_READER) -> dict[str, tuple[bool, str]]:
    """shout() hands the prices module to field_of, which reads an attribute named by a variable."""
    before = {**CLOSURE, "shop/store.py": READER}
    after = {**before, "shop/prices.py": PRICES.replace(old, new)}
    return _run_from(before, after, ran)


def test_a_docstring_read_by_string_off_its_module_reruns_the_test():
    out = run_reader(b'"""The price with tax."""', b'"""The price, tax included."""')
    assert out["test_shout"] == (False, "shop/prices.py: docstring of gross changed, and the test uses it")
    assert out["test_checkout"] == (True, "skip")


def test_code_reading_names_by_string_reruns_where_the_test_got_hold_of_the_module():
    out = run_reader(b"ROUND = 2", b"ROUND = 3")
    assert out["test_shout"] == (False, "shop/prices.py: module-level ROUND changed, and the test uses it")
    assert out["test_checkout"][0] is False  # gross() reads ROUND


def test_code_reading_names_by_string_off_something_else_does_not_count():
    ran = {**RAN, f"{TEST}::test_shout": [*RAN[f"{TEST}::test_shout"], ("shop/prices.py", "field_of")]}
    out = run(edited("shop/prices.py", b"ROUND = 2", b"ROUND = 3"), ran)
    assert out["test_shout"] == (True, "skip")  # field_of ran, but not on the prices module


def test_a_class_attribute_reruns_tests_that_use_the_class_only():
    out = run(edited("shop/prices.py", b"    size = 10", b"    size = 20"))
    assert all(skip for skip, _ in out.values())
    users = {
        **edited("shop/prices.py", b"    size = 10", b"    size = 20"),
        "shop/store.py": SHOP.replace(b"return SIGN", b"return SIGN * len([Basket])"),
    }
    out = run(users)
    assert out["test_shout"] == (False, "shop/store.py::shout changed")


def test_a_function_that_ran_for_every_test_and_uses_the_change_reruns_the_file():
    out = run(edited("shop/prices.py", b"TAX = 0.2", b"TAX = 0.25"), shared=[("shop/prices.py", "gross")])
    assert out["test_shout"] == (
        False,
        "shop/prices.py: module-level TAX changed (used in setup or collection)",
    )


def test_module_level_code_that_calls_something_with_the_change_reruns_every_test():
    closure = {
        **edited("shop/prices.py", b'CURRENCY = "EUR"', b'CURRENCY = "USD"'),
        "shop/store.py": SHOP + b"\nregister(SIGN)\n",
    }
    record_closure = {**CLOSURE, "shop/store.py": SHOP + b"\nregister(SIGN)\n"}
    out = _run_from(record_closure, closure)
    assert out["test_checkout"] == (
        False,
        "shop/prices.py: module-level CURRENCY changed, and module-level code of shop/store.py uses it",
    )


def _run_from(
    before: Mapping[str, bytes], after: Mapping[str, bytes], ran=RAN
) -> dict[str, tuple[bool, str]]:
    global CLOSURE
    saved = CLOSURE
    CLOSURE = dict(before)
    try:
        return run(after, ran)
    finally:
        CLOSURE = saved


def test_a_changed_call_at_module_level_reruns_every_test():
    out = run(edited("shop/prices.py", b"ROUND = 2", b"ROUND = compute_round()"))
    assert out["test_shout"] == (False, "shop/prices.py: module-level code changed (ROUND)")


def test_reordered_module_level_code_reruns_every_test():
    out = run(edited("shop/prices.py", b"TAX = 0.2\nROUND = 2\n", b"ROUND = 2\nTAX = 0.2\n"))
    assert out["test_shout"] == (False, "shop/prices.py: module-level code reordered")


def test_module_level_code_of_the_test_file_reruns_every_test():
    # pytest reads a test module by name (pytestmark, new tests): no narrowing there.
    out = run(edited(TEST, b"def test_checkout", b"pytestmark = []\n\ndef test_checkout"))
    assert out["test_checkout"] == (False, f"{TEST}: module-level code changed")


def test_a_conftest_change_reruns_every_test():
    out = run({**CLOSURE, "conftest.py": b"X = 2\n"})
    assert out["test_shout"] == (False, "conftest.py: module-level code changed (pytest reads it by name)")


def test_a_new_pytest_hook_in_a_plugin_module_reruns_every_test():
    out = run(
        edited("shop/store.py", b"def shout", b"def pytest_runtest_setup(item):\n    pass\n\n\ndef shout")
    )
    assert out["test_shout"] == (False, "shop/store.py: module-level code changed (pytest_runtest_setup)")


def test_a_decorated_function_whose_docstring_changed_reruns_every_test():
    before = {
        **CLOSURE,
        "shop/store.py": SHOP.replace(b"def shout", b'@cache\ndef shout():\n    """Loud."""\n\n\ndef _x'),
    }
    after = {**before, "shop/store.py": before["shop/store.py"].replace(b'"""Loud."""', b'"""Louder."""')}
    out = _run_from(before, after)
    assert out["test_checkout"] == (False, "shop/store.py: module-level code changed (shout)")


def test_facts_without_statements_rerun_every_test():
    old = decode_facts(encode_facts(facts_of(units("shop/prices.py", PRICES), KEYS)))
    legacy = Facts(old.module, old.units)  # what an older DryCI stored
    new = units("shop/prices.py", PRICES.replace(b"TAX = 0.2", b"TAX = 0.3"))
    change = file_change("shop/prices.py", legacy, new, KEYS)
    assert change.everything == "shop/prices.py: module-level code changed"


def test_a_changed_default_reruns_the_tests_that_ran_the_function_even_unnamed():
    # A framework may call a function no project code names: the tests that ran it re-run.
    ran = {f"{TEST}::test_shout": [(TEST, "test_shout"), ("shop/prices.py", "label")]}
    closure = edited("shop/prices.py", b"def label(amount):", b"def label(amount=1):")
    assert run(closure, ran)["test_shout"] == (
        False,
        "shop/prices.py: module-level label changed, and the test uses it",
    )


def test_a_default_that_uses_a_changed_constant_reruns_the_tests_that_ran_the_function():
    before = edited("shop/prices.py", b"def label(amount):", b"def label(amount, unit=CURRENCY):")
    after = {
        **before,
        "shop/prices.py": before["shop/prices.py"].replace(b'CURRENCY = "EUR"', b'CURRENCY = "USD"'),
    }
    ran = {f"{TEST}::test_shout": [(TEST, "test_shout"), ("shop/prices.py", "label")]}
    global CLOSURE
    saved, CLOSURE = CLOSURE, before
    try:
        out = run(after, ran)
    finally:
        CLOSURE = saved
    assert out["test_shout"] == (False, "shop/prices.py: module-level CURRENCY changed, and the test uses it")


def test_a_module_of_constants_only_reruns_every_test():
    # Frameworks read settings modules by name (Django, Flask from_object): no narrowing there.
    before = {**CLOSURE, "shop/limits.py": b"MAX = 1\n"}
    after = {**CLOSURE, "shop/limits.py": b"MAX = 2\n"}
    out = _run_from(before, after)
    assert out["test_shout"] == (
        False,
        "shop/limits.py: module-level code changed (a module of settings or constants only, which"
        " frameworks read by name)",
    )


def test_a_name_bound_in_one_module_is_not_the_same_bare_name_in_another():
    # store.py's own ``os`` is not the one a new ``import os`` binds in prices.py.
    before = {
        **CLOSURE,
        "shop/store.py": SHOP.replace(b"    return SIGN", b"    import os\n    return os.sep and SIGN"),
    }
    after = {**before, "shop/prices.py": PRICES.replace(b"import math\n", b"import math\nimport os\n")}
    assert all(skip for skip, _ in _run_from(before, after).values())


def test_a_constant_read_as_an_attribute_of_its_module_counts():
    before = {
        **CLOSURE,
        "shop/store.py": SHOP.replace(
            b"    return SIGN", b"    from shop import prices\n    return prices.ROUND"
        ),
    }
    after = {**before, "shop/prices.py": PRICES.replace(b"ROUND = 2", b"ROUND = 3")}
    out = _run_from(before, after)
    assert out["test_shout"] == (False, "shop/prices.py: module-level ROUND changed, and the test uses it")


def test_a_star_import_binds_whatever_changed():
    before = {
        **CLOSURE,
        "shop/store.py": b"from shop.prices import *\n\n\ndef checkout(net):\n    return gross(net)\n\n\n"
        b"def shout():\n    return CURRENCY\n",
    }
    after = {**before, "shop/prices.py": PRICES.replace(b'CURRENCY = "EUR"', b'CURRENCY = "USD"')}
    out = _run_from(before, after)
    assert out["test_shout"] == (False, "shop/prices.py: module-level CURRENCY changed, and the test uses it")
    assert out["test_checkout"] == (True, "skip")
