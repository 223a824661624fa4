from __future__ import annotations

import json

import pytest

from dryci.exceptions import ProtocolError
from dryci.precise.manifest import build_manifest, decode_manifest, identity_key, identity_secret

SECRET = identity_secret("tests/test_a.py\0cfg")
CLOSURE = {
    "pkg/core.py": b"def secret_function():\n    return 1\n",
    "tests/test_a.py": b"def test_a():\n    pass\n",
}
RAN = {"tests/test_a.py::test_a": [("pkg/core.py", "secret_function"), ("tests/test_a.py", "test_a")]}


def sample():
    return build_manifest(
        SECRET,
        "salt",
        CLOSURE,
        [("pkg/core.py", "<module>")],
        RAN,
        durations={"tests/test_a.py::test_a": 1.5},
    )


def test_a_manifest_round_trips_through_json():
    manifest = sample()
    assert decode_manifest(json.loads(json.dumps(manifest.to_json()))) == manifest


def test_the_json_form_names_no_path_test_or_function():
    text = json.dumps(sample().to_json())
    for name in ("pkg", "core", "secret_function", "test_a", "tests/"):
        assert name not in text


def test_the_lookup_key_reveals_neither_identity_nor_secret():
    key = identity_key("tests/test_a.py\0cfg")
    assert len(key) == 64 and key != SECRET and "test_a" not in key


def test_units_outside_the_closure_and_module_level_units_are_not_stored():
    manifest = build_manifest(
        SECRET, "salt", CLOSURE, [("elsewhere.py", "f"), ("pkg/core.py", "<module>")], RAN
    )
    assert manifest.shared == frozenset()
    assert [len(units) for units in manifest.tests.values()] == [2]


def test_shared_units_are_not_repeated_per_test():
    manifest = build_manifest(SECRET, "salt", CLOSURE, [("pkg/core.py", "secret_function")], RAN)
    assert len(manifest.shared) == 1
    assert [len(units) for units in manifest.tests.values()] == [1]


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda b: b.pop("tests"), "manifest"),
        (lambda b: b.update(extra=1), "manifest"),
        (lambda b: b.update(version=2), "version"),
        (lambda b: b.update(salt="xyz"), "salt"),
        (lambda b: b.update(shared="abc"), "shared"),
        (lambda b: b.update(tests={"NOTHEX": []}), "tests key"),
        (
            lambda b: b["files"].update({"0" * 32: {"content": "0" * 32, "module": 5, "units": {}}}),
            "files.%s.module" % ("0" * 32),
        ),
        (lambda b: b["files"].update({"0" * 32: []}), "files.%s" % ("0" * 32)),
        (lambda b: b.update(durations=[]), "durations"),
        (lambda b: b.update(durations={"0" * 32: -1}), "durations.%s" % ("0" * 32)),
        (lambda b: b.update(durations={"0" * 32: "1"}), "durations.%s" % ("0" * 32)),
        (lambda b: b.update(durations={"0" * 32: True}), "durations.%s" % ("0" * 32)),
        (lambda b: b.update(durations={"0" * 32: float("nan")}), "durations.%s" % ("0" * 32)),
    ],
)
def test_a_malformed_manifest_is_rejected_naming_the_field(mutate, field):
    body = sample().to_json()
    mutate(body)
    with pytest.raises(ProtocolError) as info:
        decode_manifest(body)
    assert info.value.field == field


def test_a_manifest_that_is_not_an_object_is_rejected():
    with pytest.raises(ProtocolError, match="expected an object, got list"):
        decode_manifest([])


def test_each_recorded_test_keeps_its_duration_keyed_like_its_id():
    manifest = sample()
    assert list(manifest.durations.values()) == [1.5]
    assert manifest.durations.keys() == manifest.tests.keys()


def test_a_manifest_written_before_durations_still_decodes_without_them():
    body = sample().to_json()
    del body["durations"]
    manifest = decode_manifest(body)
    assert manifest.durations == {} and manifest.tests == sample().tests


def test_a_carried_test_keeps_its_previous_duration():
    previous = sample()
    (test_id,) = previous.tests
    manifest = build_manifest(SECRET, "salt", CLOSURE, [], {}, carried=[test_id], previous=previous)
    assert manifest.durations == {test_id: 1.5}
