"""DryCI: a test-result cache for pytest.

A test file's result is reused when nothing it depends on has changed. ``dryci.dagger`` computes a
dependency hash per test file, ``dryci.plugin`` skips what already passed under that hash, and
``dryci.server`` shares the cache across machines.
"""

from __future__ import annotations

from dryci.exceptions import (
    AnalysisError,
    ConfigError,
    DryciError,
    ProtocolError,
    StoreError,
    StoreUnavailable,
)

__version__ = "0.2.0.dev0"

__all__ = [
    "AnalysisError",
    "ConfigError",
    "DryciError",
    "ProtocolError",
    "StoreError",
    "StoreUnavailable",
    "__version__",
]
