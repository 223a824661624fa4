"""pytest-xdist hooks: registered only when xdist is installed (its hook names are unknown otherwise).

The controller analyzes and queries once; each worker gets the plan through ``workerinput`` and
sends back what it collected through ``workeroutput``; the controller publishes once.
"""

from __future__ import annotations

from typing import Any

from dryci.plugin.session import DryciSession

__all__ = ["XdistHooks"]


class XdistHooks:
    def __init__(self, session: DryciSession) -> None:
        self.session = session

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["dryci"] = self.session.worker_payload()

    def pytest_testnodedown(self, node: Any, error: object | None) -> None:
        output = getattr(node, "workeroutput", None) or {}
        self.session.merge_worker_output(output.get("dryci"))
