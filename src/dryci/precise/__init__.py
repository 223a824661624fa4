"""Precise mode: re-run only the tests whose executed code changed (``--dryci-precise``).

``units`` splits a Python file into function bodies and module-level code, ``recording`` maps the code
objects a test ran to those units, ``manifest`` keeps their keyed fingerprints per test file, and
``decide`` says, from a manifest and the current closure, which tests may still be skipped.
"""
