"""Precise mode: re-run only the tests whose executed code changed (``--dryci-precise``).

``units`` splits a Python file into function bodies and module-level code, ``recording`` maps the code
objects a test ran to those units, ``manifest`` keeps their keyed fingerprints per test file, and
``decide`` says, from a manifest and the current closure, which tests may still be skipped.
"""

from __future__ import annotations

__all__ = ["PRECISE_SKIP_REASON"]

# Here, not in session.py: the results tracker of ``--dryci`` imports it without pytest hooks.
PRECISE_SKIP_REASON = "dryci precise: passed before, and none of the code it ran changed"
