"""The function level's decisions, from a record written at one state of the sources to another.

Each test records a pass over ``CLOSURE`` the way a run does (units per test, a snapshot, the facts
of every file content), edits the sources, and reads the decision for each test back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from dryci.exceptions import AnalysisError
from dryci.protocol.records import decode_facts, decode_record, decode_snapshot, encode_facts, encode_snapshot
from dryci.recording.units import ModuleUnits, parse_units
from dryci.selection.building import RecordInputs, build_record, facts_of
from dryci.selection.functions import NO_RECORD, FileVerdict, decide_file, file_change
from dryci.selection.keys import Keys
from dryci.selection.names import for_closure, resolve

KEYS = Keys.of("config-1", {"global.cfg": "g1"})
SKIP_BECAUSE = "skip"

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


def units(path: str, content: bytes) -> ModuleUnits | None:
    if not path.endswith(".py"):
        return None
    try:
        return parse_units(content, path)
    except AnalysisError:
        return None


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


class Store:
    """What a run leaves in a store: records, snapshots and facts."""

    def __init__(self) -> None:
        self.snapshots: dict[bytes, bytes] = {}
        self.facts: dict[bytes, bytes] = {}


def record(
    closure: Mapping[str, bytes],
    store: Store,
    shared=(),
    ran=None,
    carried=(),
    previous: bytes | None = None,
    keys: Keys = KEYS,
    count: int | None = None,
) -> bytes | None:
    contents = {keys.file(p): keys.content(digest(c)) for p, c in closure.items()}
    snapshot = encode_snapshot(contents)
    sid = hashlib.blake2b(snapshot, digest_size=16).digest()
    store.snapshots[sid] = snapshot
    for path, content in closure.items():
        store.facts[keys.content(digest(content))] = encode_facts(facts_of(units(path, content), keys))
    ran = RAN if ran is None else ran
    inputs = RecordInputs(
        "tests/test_calc.py",
        frozenset(closure),
        len(NODES) if count is None else count,
        {node: (1.0, set(u)) for node, u in ran.items()},
        set(shared),
        carried,
    )
    view = decode_record(previous) if previous is not None else None
    return build_record(keys, sid, inputs, lambda p: units(p, closure[p]), view)


def decide(body: bytes | None, store: Store, closure: Mapping[str, bytes], salt_keys: Keys = KEYS):
    view = decode_record(body)
    snapshot = decode_snapshot(store.snapshots[view.snapshot]).contents
    changes = {}
    for path, content in closure.items():
        old = snapshot.get(KEYS.file(path))
        if old is not None and old != KEYS.content(digest(content)):
            facts = decode_facts(store.facts[old]) if old in store.facts else None
            changes[path] = file_change(
                path, facts, units(path, content), KEYS, test_file=path.startswith("tests/")
            )
    requirements = [r for change in changes.values() for r in change.requirements]
    now = {p: facts_of(units(p, c), KEYS) for p, c in closure.items()}
    reason, uses = for_closure(requirements, resolve(requirements, now, (), KEYS), closure)
    verdict = decide_file(view, salt_keys.salt, KEYS.closure(closure), changes, uses)
    if reason is not None and verdict.everything is None:
        return FileVerdict(view, reason, {})
    return verdict


def run(closure, shared=(), node_ids=NODES, salt_keys: Keys = KEYS, ran=None):
    store = Store()
    verdict = decide(record(CLOSURE, store, shared, ran), store, closure, salt_keys)
    out = {}
    for node in node_ids:
        why = verdict.reason_for(KEYS.test(node))
        out[node.split("::")[1]] = (True, SKIP_BECAUSE) if why is None else (False, why)
    return out


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


def test_a_changed_constant_reruns_only_the_tests_whose_code_uses_it():
    out = run(edited("calc.py", b"RATE = 2", b"RATE = 3"))
    assert out["test_double"] == (False, "calc.py: module-level RATE changed, and the test uses it")
    assert out["test_triple"] == (True, SKIP_BECAUSE)


def test_module_level_code_that_calls_something_reruns_every_test():
    out = run(edited("calc.py", b"RATE = 2", b"RATE = load_rate()"))
    assert out["test_triple"] == (False, "calc.py: module-level code changed (RATE)")


def test_a_default_argument_change_of_a_method_no_test_calls_skips_every_test():
    out = run(edited("calc.py", b"scale=1", b"scale=2"))
    assert all(skip for skip, _ in out.values())


def test_a_new_method_override_in_a_class_no_test_uses_skips_every_test():
    out = run(
        edited(
            "calc.py",
            b"        return 4 * scale\n",
            b"        return 4 * scale\n\n    def __len__(self):\n        return 1\n",
        )
    )
    assert all(skip for skip, _ in out.values())


def test_a_data_file_change_reruns_every_test():
    out = run({**CLOSURE, "data/table.csv": b"a,b\n1,2\n"})
    assert out["test_double"] == (False, "data/table.csv changed (non-Python file)")


def test_a_file_joining_the_closure_reruns_every_test():
    out = run({**CLOSURE, "helpers.py": b"X = 1\n"})
    assert out["test_double"] == (False, "a file joined or left its closure")


def test_a_file_leaving_the_closure_reruns_every_test():
    closure = dict(CLOSURE)
    del closure["data/table.csv"]
    assert run(closure)["test_double"] == (False, "a file joined or left its closure")


def test_a_changed_salt_reruns_every_test():
    out = run(CLOSURE, salt_keys=Keys.of("config-1", {"global.cfg": "g2"}))
    assert out["test_triple"] == (
        False,
        "config, environment, a distribution it imports or global dependencies changed",
    )


def test_a_python_file_that_no_longer_parses_reruns_every_test():
    out = run(edited("calc.py", b"return x * 3", b"return x *"))
    assert out["test_double"] == (False, "calc.py changed (Python file that does not parse)")


def test_a_file_that_did_not_parse_when_recorded_reruns_every_test_once_it_changes():
    closure = {**CLOSURE, "calc.py": b"def broken(:\n"}
    store = Store()
    ran = {node: [u for u in units_ if u[0] != "calc.py"] for node, units_ in RAN.items()}
    verdict = decide(record(closure, store, ran=ran), store, {**closure, "calc.py": CALC})
    assert verdict.everything == "calc.py changed (Python file that does not parse)"


def test_a_change_in_code_that_ran_during_setup_or_collection_reruns_every_test():
    out = run(edited("calc.py", b"return x * 3", b"return 3 * x"), shared=[("calc.py", "triple")])
    assert set(out.values()) == {(False, "calc.py::triple changed (ran in setup or collection)")}


def test_a_test_without_a_record_reruns():
    out = run(CLOSURE, node_ids=[*NODES, "tests/test_calc.py::test_new"])
    assert out["test_new"] == (False, NO_RECORD)


def test_a_record_that_does_not_hold_every_test_the_file_produced_is_not_complete():
    store = Store()
    assert decide(record(CLOSURE, store), store, CLOSURE).untouched
    partial = record(CLOSURE, store, count=3)
    assert not decide(partial, store, CLOSURE).untouched


def test_a_test_that_ran_a_function_the_source_no_longer_has_is_not_recorded():
    ran = {**RAN, NODES[0]: [("calc.py", "vanished")]}
    out = run(CLOSURE, ran=ran)
    assert out["test_double"] == (False, NO_RECORD)
    assert out["test_triple"][0] is True


def test_shared_code_the_source_no_longer_has_leaves_no_record():
    assert record(CLOSURE, Store(), shared=[("calc.py", "vanished")]) is None


def test_other_keys_recognise_nothing():
    store = Store()
    body = record(CLOSURE, store, keys=Keys.of("config-2"))
    verdict = decide(body, store, CLOSURE)
    assert (
        verdict.everything == "config, environment, a distribution it imports or global dependencies changed"
    )


def test_a_skipped_test_keeps_its_record_in_the_next_one():
    store = Store()
    changed = edited("calc.py", b"return x * 3", b"return x + x + x")
    first = record(CLOSURE, store)
    verdict = decide(first, store, changed)
    assert verdict.reason_for(KEYS.test(NODES[0])) is None
    assert verdict.reason_for(KEYS.test(NODES[1])) == "calc.py::triple changed"
    # The next run re-ran test_triple and carried test_double.
    second = record(changed, store, ran={NODES[1]: RAN[NODES[1]]}, carried=[NODES[0]], previous=first)
    assert decide(second, store, changed).untouched
    # The next edit, in double(), must re-run the carried test and skip the other.
    again = decide(
        second, store, {**changed, "calc.py": changed["calc.py"].replace(b"x * RATE", b"RATE * x")}
    )
    assert again.reason_for(KEYS.test(NODES[0])) == "calc.py::double changed"
    assert again.reason_for(KEYS.test(NODES[1])) is None


def test_a_carried_test_keeps_what_ran_for_every_test_then():
    store = Store()
    first = record(CLOSURE, store, shared=[("calc.py", "triple")])
    # Recorded again without that shared unit: the carried test still counts it as its own.
    second = record(CLOSURE, store, ran={NODES[1]: RAN[NODES[1]]}, carried=[NODES[0]], previous=first)
    verdict = decide(second, store, edited("calc.py", b"return x * 3", b"return 3 * x"))
    assert verdict.reason_for(KEYS.test(NODES[0])) == "calc.py::triple changed"


def test_facts_of_the_recorded_content_missing_rerun_every_test():
    store = Store()
    body = record(CLOSURE, store)
    store.facts.clear()
    verdict = decide(body, store, edited("calc.py", b"return x * 3", b"return 3 * x"))
    assert verdict.everything == "calc.py changed (no facts of its recorded content)"


def test_a_removed_function_that_a_test_ran_reruns_it():
    out = run(edited("calc.py", b"def triple(x):\n    return x * 3\n", b""))
    assert out["test_triple"] == (False, "calc.py: a function it ran was removed")
    assert out["test_double"] == (True, SKIP_BECAUSE)
