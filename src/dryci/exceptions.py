"""The one exception hierarchy of DryCI.

::

    DryciError                  every error DryCI raises on purpose
    ├── ConfigError             a config file or key is wrong (file, key)
    ├── AnalysisError           a project file cannot be read or analyzed (file)
    ├── ProtocolError           a wire body does not match the protocol (field)
    └── StoreError              a result store failed
        └── StoreUnavailable    the store cannot be used now: run everything

Errors are converted only at the boundary: ``pytest.UsageError`` or a status line in the plugin,
a clean message and exit code 2 in the command-line tools, an HTTP 4xx in the server.
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "AnalysisError",
    "ConfigError",
    "DryciError",
    "ProtocolError",
    "StoreError",
    "StoreUnavailable",
]


class DryciError(Exception):
    """Base class of every error DryCI raises on purpose."""


class ConfigError(DryciError):
    """A config file or one of its keys is invalid.

    ``file`` is the config file, ``key`` the dotted key path (``path_rules."src/**".visit``).
    """

    def __init__(self, message: str, *, file: Optional[str] = None, key: Optional[str] = None) -> None:
        self.message = message
        self.file = file
        self.key = key
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}: "
        if self.key:
            where += f"{self.key}: "
        return f"{where}{self.message}"


class AnalysisError(DryciError):
    """A project file could not be read or analyzed."""

    def __init__(self, message: str, *, file: Optional[str] = None) -> None:
        self.message = message
        self.file = file
        super().__init__(f"{file}: {message}" if file else message)


class ProtocolError(DryciError):
    """A request or response body does not match the wire protocol; ``field`` names where."""

    def __init__(self, message: str, *, field: Optional[str] = None) -> None:
        self.message = message
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class StoreError(DryciError):
    """A result store failed."""


class StoreUnavailable(StoreError):
    """The store cannot be used now; callers run every test and say ``reason`` once."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
