from __future__ import annotations

import pytest

from dryci.exceptions import StoreUnavailable
from dryci.precise.manifest import build_manifest, identity_key, identity_secret
from dryci.precise.store import LocalManifestStore

KEY = identity_key("tests/test_a.py\0cfg")


def manifest(body: bytes = b"def f():\n    return 1\n"):
    secret = identity_secret("tests/test_a.py\0cfg")
    return build_manifest(secret, "salt", {"a.py": body}, [], {"t::x": [("a.py", "f")]})


def test_a_stored_manifest_comes_back(tmp_path):
    store = LocalManifestStore(tmp_path / "precise")
    store.put(KEY, manifest())
    assert store.get(KEY) == manifest()


def test_a_newer_manifest_replaces_the_older_and_leaves_no_temporary_file(tmp_path):
    store = LocalManifestStore(tmp_path)
    store.put(KEY, manifest())
    store.put(KEY, manifest(b"def f():\n    return 2\n"))
    assert store.get(KEY) == manifest(b"def f():\n    return 2\n")
    assert [p.name for p in tmp_path.iterdir()] == [f"{KEY}.json"]


def test_a_missing_or_damaged_manifest_reads_as_none(tmp_path):
    store = LocalManifestStore(tmp_path)
    assert store.get(KEY) is None
    (tmp_path / f"{KEY}.json").write_text('{"version": 1')
    assert store.get(KEY) is None
    (tmp_path / f"{KEY}.json").write_text(
        '{"version": 99, "salt": 1, "files": {}, "shared": [], "tests": {}}'
    )
    assert store.get(KEY) is None


def test_a_key_that_is_not_64_hex_is_refused_before_touching_the_disk(tmp_path):
    with pytest.raises(ValueError, match="64 lowercase hex"):
        LocalManifestStore(tmp_path).put("../escape", manifest())


def test_an_unwritable_directory_raises_store_unavailable_naming_the_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreUnavailable, match="cannot write precise manifest"):
        LocalManifestStore(blocker / "precise").put(KEY, manifest())


def test_many_manifests_are_stored_and_read_back_together_leaving_out_missing_keys(tmp_path):
    store = LocalManifestStore(tmp_path)
    other = identity_key("tests/test_b.py\0cfg")
    store.put_many({KEY: manifest(), other: manifest(b"def f():\n    return 2\n")})
    missing = identity_key("tests/test_c.py\0cfg")
    assert store.get_many([KEY, other, missing]) == {
        KEY: manifest(),
        other: manifest(b"def f():\n    return 2\n"),
    }
    assert store.get_many([]) == {}
