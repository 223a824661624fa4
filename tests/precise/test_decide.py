from __future__ import annotations

from dataclasses import replace

from dryci.precise.decide import SKIP_BECAUSE, decide
from dryci.precise.manifest import build_manifest, identity_secret, keyed

SECRET = identity_secret("tests/test_calc.py\0config-1")
SALT = "env-1"

CALC = b"""\
RATE = 2

def double(x):
    return x * RATE

def triple(x):
    return x * 3

class Box:
    def size(self, scale=1):
        return 4 * scale
"""

TESTS = b"""\
from calc import double, triple

def test_double():
    assert double(2) == 4

def test_triple():
    assert triple(2) == 6
"""

CLOSURE = {"calc.py": CALC, "tests/test_calc.py": TESTS, "data/table.csv": b"a,b\n"}
RAN = {
    "tests/test_calc.py::test_double": [("tests/test_calc.py", "test_double"), ("calc.py", "double")],
    "tests/test_calc.py::test_triple": [("tests/test_calc.py", "test_triple"), ("calc.py", "triple")],
}
NODES = list(RAN)


def manifest(shared=(), ran=None):
    return build_manifest(SECRET, SALT, CLOSURE, shared, RAN if ran is None else ran)


def run(closure, salt=SALT, shared=(), node_ids=NODES):
    decisions = decide(manifest(shared), SECRET, salt, closure, node_ids)
    return {node.split("::")[1]: (d.skip, d.reason) for node, d in decisions.items()}


def edited(path, old, new):
    assert old in CLOSURE[path]
    return {**CLOSURE, path: CLOSURE[path].replace(old, new)}


def test_an_unchanged_closure_skips_every_recorded_test():
    assert all(skip for skip, _ in run(CLOSURE).values())


def test_an_edit_in_a_function_a_test_did_not_run_skips_it():
    out = run(edited("calc.py", b"return x * 3", b"return x + x + x"))
    assert out["test_double"][0] is True
    assert out["test_triple"] == (False, "calc.py::triple changed")


def test_an_edit_in_a_method_no_test_ran_skips_every_test():
    out = run(edited("calc.py", b"return 4 * scale", b"return 5 * scale"))
    assert all(skip for skip, _ in out.values())


def test_an_edit_in_the_test_function_itself_reruns_that_test():
    out = run(edited("tests/test_calc.py", b"double(2) == 4", b"double(3) == 6"))
    assert out["test_double"] == (False, "tests/test_calc.py::test_double changed")
    assert out["test_triple"][0] is True


def test_module_level_code_changes_rerun_every_test():
    out = run(edited("calc.py", b"RATE = 2", b"RATE = 3"))
    assert out["test_triple"] == (False, "calc.py: module-level code changed")


def test_a_default_argument_change_reruns_every_test():
    out = run(edited("calc.py", b"scale=1", b"scale=2"))
    assert out["test_triple"] == (False, "calc.py: module-level code changed")


def test_a_new_method_override_in_a_class_reruns_every_test():
    out = run(
        edited(
            "calc.py",
            b"        return 4 * scale\n",
            b"        return 4 * scale\n\n    def __len__(self):\n        return 1\n",
        )
    )
    assert out["test_double"] == (False, "calc.py: module-level code changed")


def test_a_data_file_change_reruns_every_test():
    out = run({**CLOSURE, "data/table.csv": b"a,b\n1,2\n"})
    assert out["test_double"] == (False, "data/table.csv changed (non-Python file)")


def test_a_file_joining_the_closure_reruns_every_test():
    out = run({**CLOSURE, "helpers.py": b"X = 1\n"})
    assert out["test_double"] == (False, "helpers.py joined the closure")


def test_a_file_leaving_the_closure_reruns_every_test():
    closure = dict(CLOSURE)
    del closure["data/table.csv"]
    assert run(closure)["test_double"] == (False, "a file left the closure")


def test_a_changed_salt_reruns_every_test():
    out = run(CLOSURE, salt="env-2")
    assert out["test_triple"] == (False, "config, environment salt or global dependencies changed")


def test_a_python_file_that_no_longer_parses_reruns_every_test():
    out = run(edited("calc.py", b"return x * 3", b"return x *"))
    assert out["test_double"] == (False, "calc.py changed (Python file that does not parse)")


def test_a_file_that_did_not_parse_when_recorded_reruns_every_test_once_it_changes():
    closure = {**CLOSURE, "calc.py": b"def broken(:\n"}
    recorded = build_manifest(SECRET, SALT, closure, (), RAN)
    out = decide(recorded, SECRET, SALT, {**closure, "calc.py": CALC}, NODES)
    assert [d.skip for d in out.values()] == [False, False]
    assert out[NODES[0]].reason == "calc.py changed (Python file that does not parse)"


def test_a_change_in_code_that_ran_during_setup_or_collection_reruns_every_test():
    decisions = decide(
        manifest(shared=[("calc.py", "triple")]),
        SECRET,
        SALT,
        edited("calc.py", b"return x * 3", b"return 3 * x"),
        NODES,
    )
    assert [d.reason for d in decisions.values()] == [
        "calc.py::triple changed (ran in setup or collection)"
    ] * 2


def test_a_test_without_a_record_reruns():
    out = run(CLOSURE, node_ids=[*NODES, "tests/test_calc.py::test_new"])
    assert out["test_new"] == (False, "no precise record of this test")


def test_a_test_that_ran_a_function_the_source_no_longer_has_is_not_recorded():
    ran = {**RAN, NODES[0]: [("calc.py", "vanished")]}
    decisions = decide(manifest(ran=ran), SECRET, SALT, CLOSURE, NODES)
    assert decisions[NODES[0]].skip is False
    assert decisions[NODES[1]].skip is True


def test_a_different_secret_recognises_nothing():
    other = identity_secret("tests/test_other.py\0config-1")
    decisions = decide(manifest(), other, SALT, CLOSURE, NODES)
    assert all(not d.skip for d in decisions.values())


def test_a_skipped_test_keeps_its_record_in_the_next_manifest():
    changed = edited("calc.py", b"return x * 3", b"return x + x + x")
    first = manifest()
    assert [d.skip for d in decide(first, SECRET, SALT, changed, NODES).values()] == [True, False]
    double = keyed(SECRET, "test", NODES[0])
    second = build_manifest(SECRET, SALT, changed, (), {NODES[1]: RAN[NODES[1]]}, [double], first)
    assert second.tests[double] == first.tests[double]
    # The next edit, in double(), must re-run the carried test and skip the other.
    again = decide(
        second,
        SECRET,
        SALT,
        {**changed, "calc.py": changed["calc.py"].replace(b"x * RATE", b"RATE * x")},
        NODES,
    )
    assert [(d.skip, d.reason) for d in again.values()] == [
        (False, "calc.py::double changed"),
        (True, SKIP_BECAUSE),
    ]


def test_a_carried_record_whose_units_the_previous_manifest_lacks_is_dropped():
    first = manifest()
    double = keyed(SECRET, "test", NODES[0])
    broken = replace(first, tests={**first.tests, double: first.tests[double] | {"f" * 32}})
    assert build_manifest(SECRET, SALT, CLOSURE, (), {}, [double], broken).tests == {}
    assert build_manifest(SECRET, SALT, CLOSURE, (), {}, [double], first).tests == {
        double: first.tests[double]
    }


def test_only_executed_functions_have_a_fingerprint_in_the_manifest():
    recorded = manifest()
    assert sum(len(r.units) for r in recorded.files.values()) == 4  # double, triple, two test functions


def test_a_removed_function_that_a_test_ran_reruns_it():
    # Removing a function changes module-level code; the reason names the first rule that applies.
    out = run(edited("calc.py", b"def triple(x):\n    return x * 3\n", b""))
    assert out["test_triple"] == (False, "calc.py: module-level code changed")
