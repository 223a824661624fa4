"""Registration of precise mode on top of a ``--dryci`` session (called from ``dryci.plugin.plugin``)."""

from __future__ import annotations

from typing import Any

import pytest

from dryci.precise.runtime import recording_key
from dryci.precise.session import PreciseSession

__all__ = ["PRECISE_PLUGIN_NAME", "register_precise"]

PRECISE_PLUGIN_NAME = "dryci-precise"


def register_precise(config: pytest.Config, dryci: Any) -> PreciseSession | None:
    # The recording began in pytest_load_initial_conftests. Without it (the plugin was loaded too
    # late), code run at import time went unseen: record nothing and decide nothing.
    recording = config.stash.get(recording_key, None)
    if recording is None:
        dryci.say(
            "dryci: precise mode is off: it must start before conftest files load (-p dryci.plugin.plugin)"
        )
        return None
    session = PreciseSession(config, dryci, recording)
    config.pluginmanager.register(session, PRECISE_PLUGIN_NAME)
    if config.pluginmanager.hasplugin("xdist"):
        from dryci.precise.xdist import PreciseXdistHooks

        config.pluginmanager.register(PreciseXdistHooks(session), PRECISE_PLUGIN_NAME + "-xdist")
    return session
