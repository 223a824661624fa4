"""The parse cache of closure files: what is stored is what a parse gives, and a hit parses nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

from dryci.plugin import sources
from dryci.plugin.sources import Sources
from dryci.recording.units import parse_units
from dryci.store.local import LocalStore

SOURCE = b'''\
"""A module."""
from m import a, b

RATE = 2


class Box:
    size = 1

    def area(self, scale=RATE):
        """Doc."""
        return getattr(self, "size") * scale
'''


def test_a_parse_cache_entry_holds_everything_a_parse_gives():
    units = parse_units(SOURCE, "box.py")
    assert sources._load(sources._dump(units)) == (True, units)
    assert sources._load(sources._dump(None)) == (True, None)


def test_a_second_run_takes_the_units_from_the_cache_without_parsing(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "box.py").write_bytes(SOURCE)
    digest = hashlib.sha256(SOURCE).hexdigest()
    store = LocalStore(tmp_path / "cache")
    first = Sources(tmp_path, {"box.py": digest}.__getitem__, store)
    expected = first.units("box.py")
    first.flush()

    def no_parse(source, filename):  # the cache must answer
        raise AssertionError(f"parsed {filename} again")

    monkeypatch.setattr(sources, "parse_units", no_parse)
    second = Sources(tmp_path, {"box.py": digest}.__getitem__, store)
    second.prefetch(["box.py"])
    assert second.units("box.py") == expected
