"""pytest-xdist hooks of precise mode: registered only when xdist is installed.

The controller sends each worker the decisions per recorded test id; each worker sends back what its
tests executed, and the reasons its tests re-ran (for ``--dryci-explain``).
"""

from __future__ import annotations

from typing import Any

from dryci.precise.session import PreciseSession

__all__ = ["PreciseXdistHooks"]


class PreciseXdistHooks:
    def __init__(self, session: PreciseSession) -> None:
        self.session = session

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["dryci_precise"] = self.session.worker_payload()

    def pytest_testnodedown(self, node: Any, error: object | None) -> None:
        output = getattr(node, "workeroutput", None) or {}
        self.session.merge_worker_output(output.get("dryci_precise"))
