"""Where this run keeps and finds results: DryCI's cache folder, the local store, the shared one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dryci.exceptions import StoreUnavailable
from dryci.plugin.planning import RUNNING_ALL
from dryci.plugin.settings import Settings

if TYPE_CHECKING:
    from dryci.store.base import Store
    from dryci.store.local import LocalStore

__all__ = ["Places"]


class Places:
    def __init__(self, config: pytest.Config, settings: Settings, say: Callable[[str], None]) -> None:
        self._config = config
        self._settings = settings
        self._say = say
        self._path: Path | None = None
        self._problem: str | None = None

    def cache_dir(self) -> Path | None:
        """DryCI's folder under pytest's cache dir, made on first use; None when it cannot be made
        (a read-only checkout, a full disk: said by :meth:`open_local`)."""
        if self._path is None and self._problem is None:
            path = self._config.rootpath / ".pytest_cache" / "d" / "dryci"
            try:
                cache = getattr(self._config, "cache", None)  # None with -p no:cacheprovider
                if cache is not None:
                    path = Path(cache.mkdir("dryci"))
                else:
                    path.mkdir(parents=True, exist_ok=True)
                self._path = path
            except OSError as exc:
                self._problem = f"cannot use the cache folder {path}: {exc.strerror or exc}"
        return self._path

    def open_local(self) -> tuple[LocalStore | None, str | None]:
        """The local SQLite store, or None and why not."""
        cache_dir = self.cache_dir()
        if cache_dir is None:
            return None, self._problem
        from dryci.store.local import LocalStore

        try:
            local = LocalStore(cache_dir, busy_timeout=self._settings.lock_timeout)
        except StoreUnavailable as exc:
            return None, exc.reason
        if local.recovered:
            self._say(f"dryci: {local.recovered}")
        return local, None

    def stores(self) -> tuple[Store | None, LocalStore | None]:
        """(the store to ask, the local store): the server's when one is set, else the local one."""
        local, problem = self.open_local()
        settings = self._settings
        if settings.server is None:
            if local is None:
                self._say(f"dryci: {problem} {RUNNING_ALL}")
            return local, local
        from dryci.store.remote import RemoteStore

        return RemoteStore(settings.server, token=settings.token, timeout=settings.timeout), local
