"""Which tests of a test file may still be skipped after its dependency hash changed.

A test is skipped only when every changed file is a Python file whose changes lie entirely inside
function bodies the test did not execute. Anything else re-runs it, with the first reason found:

- the config, environment salt or a global dependency changed (the salt differs);
- a file joined or left the closure;
- a non-Python file changed, or a changed Python file does not parse (now or when recorded);
- module-level code of a changed Python file changed (class bodies, decorators, defaults, globals);
- the test executed a function whose body changed;
- the manifest has no record of the test (it is new, or did not pass).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dryci.precise.manifest import Closure, PreciseManifest, facts_of, is_python, keyed

__all__ = ["NO_RECORD", "SKIP_BECAUSE", "TestDecision", "decide", "decide_ids", "for_node"]

SKIP_BECAUSE = "changes lie only in functions this test did not run"


@dataclass(frozen=True)
class TestDecision:
    skip: bool
    reason: str  # why the test re-runs; for a skip, why it may be skipped


NO_RECORD = TestDecision(False, "no precise record of this test")


def _file_wide_change(
    manifest: PreciseManifest, secret: str, salt: str, closure: Closure
) -> tuple[str | None, dict[str, str]]:
    """(a reason every test re-runs, or None; changed unit id -> 'path::qualname')."""
    if keyed(secret, "salt", salt) != manifest.salt:
        return "config, environment salt or global dependencies changed", {}
    facts = facts_of(closure)
    current = {keyed(secret, "file", path): path for path in facts}
    added = sorted(current[fid] for fid in set(current) - set(manifest.files))
    if added:
        return f"{added[0]} joined the closure", {}
    if set(manifest.files) - set(current):
        return "a file left the closure", {}
    changed_units: dict[str, str] = {}
    for fid, path in sorted(current.items(), key=lambda item: item[1]):
        record, fact = manifest.files[fid], facts[path]
        if keyed(secret, "content", fact.digest) == record.content:
            continue
        units = fact.units
        if record.module is None or units is None:
            kind = "Python file that does not parse" if is_python(path) else "non-Python file"
            return f"{path} changed ({kind})", {}
        if keyed(secret, "module", units.module_fingerprint) != record.module:
            return f"{path}: module-level code changed", {}
        # Only executed units have a recorded fingerprint; a function added or removed changed the
        # module-level code above.
        now = {
            keyed(secret, "unit", path, q): (q, keyed(secret, "fp", fp))
            for q, fp in units.fingerprints().items()
        }
        for uid, fingerprint in record.units.items():
            qualname, current_fp = now.get(uid, ("(a removed function)", ""))
            if current_fp != fingerprint:
                changed_units[uid] = f"{path}::{qualname}"
    return None, changed_units


def decide_ids(
    manifest: PreciseManifest, secret: str, salt: str, closure: Closure
) -> tuple[str | None, dict[str, TestDecision]]:
    """Per recorded test id: skip, or re-run with the changed unit that causes it.

    Returns also the reason every test re-runs (then the mapping is empty), so a test the manifest
    does not know can be told apart: it re-runs with that reason or as "no precise record".
    """
    everything, changed = _file_wide_change(manifest, secret, salt, closure)
    if everything is not None:
        return everything, {}
    shared_hits = sorted(changed[uid] for uid in manifest.shared if uid in changed)
    if shared_hits:
        return f"{shared_hits[0]} changed (ran in setup or collection)", {}
    decisions = {}
    for test_id, executed in manifest.tests.items():
        hits = sorted(changed[uid] for uid in executed if uid in changed)
        if hits:
            decisions[test_id] = TestDecision(False, f"{hits[0]} changed")
        else:
            decisions[test_id] = TestDecision(True, SKIP_BECAUSE)
    return None, decisions


def for_node(
    secret: str, everything: str | None, decisions: Mapping[str, TestDecision], node_id: str
) -> TestDecision:
    """The decision for one node id, from :func:`decide_ids`' result."""
    if everything is not None:
        return TestDecision(False, everything)
    return decisions.get(keyed(secret, "test", node_id), NO_RECORD)


def decide(
    manifest: PreciseManifest,
    secret: str,
    salt: str,
    closure: Closure,
    node_ids: Iterable[str],
) -> dict[str, TestDecision]:
    """Per node id: skip, or re-run with the reason.

    ``closure`` maps every file of the test file's current closure to its content; ``salt`` is the
    current config/environment/global-dependency identity the manifest was recorded under.
    """
    everything, decisions = decide_ids(manifest, secret, salt, closure)
    return {node_id: for_node(secret, everything, decisions, node_id) for node_id in node_ids}
