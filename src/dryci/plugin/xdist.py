"""pytest-xdist: the one payload a worker gets and the one output it sends back.

The controller analyzes, asks the stores and decides at both levels once; each worker gets the whole
selection through ``workerinput`` (so it skips exactly what the controller would) and sends back what
it collected, what it skipped for a reason the key decides, and its recording, through
``workeroutput``. The hooks class is registered only when xdist is installed (its hook names are
unknown otherwise).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dryci.exceptions import ProtocolError
from dryci.protocol.records import decode_record
from dryci.selection.decision import Level
from dryci.selection.files import FilePlan, Plan
from dryci.selection.functions import FileVerdict
from dryci.selection.keys import Keys
from dryci.selection.plan import Selection, Uncollected
from dryci.selection.shadow import WouldSkip

if TYPE_CHECKING:
    from dryci.plugin.session import DryciSession

__all__ = ["WorkerOutput", "WorkerPayload", "XdistHooks"]


@dataclass(frozen=True)
class WorkerPayload:
    base_dir: Path
    selection: Selection
    named: frozenset[str]
    canary_seed: str
    uncollected: Mapping[str, Uncollected]

    def dump(self) -> dict[str, Any]:
        selection = self.selection
        return {
            "base_dir": str(self.base_dir),
            "skip": selection.plan.skip,
            "files": {
                p: [f.dependency_hash, dict(f.passed), f.test_count, sorted(f.skipped), f.verified, f.claimed]
                for p, f in selection.plan.files.items()
            },
            "verdicts": {
                p: [v.record.blob, v.everything, {t.hex(): why for t, why in v.affected.items()}]
                for p, v in selection.verdicts.items()
            },
            "keys": selection.keys.dump() if selection.keys is not None else None,
            "named": sorted(self.named),
            "canary_seed": self.canary_seed,
            "uncollected": {p: [u.level.value, u.tests, u.seconds] for p, u in self.uncollected.items()},
        }

    @classmethod
    def load(cls, raw: dict[str, Any] | None) -> WorkerPayload | None:
        if not raw:
            return None
        files = {
            p: FilePlan(p, h, passed, count, frozenset(skipped), verified, claimed)
            for p, (h, passed, count, skipped, verified, claimed) in raw["files"].items()
        }
        verdicts = {}
        for path, (blob, everything, affected) in raw["verdicts"].items():
            try:
                record = decode_record(bytes(blob))
            except ProtocolError:  # it decoded in the controller: cannot happen, but never skip blindly
                continue
            verdicts[path] = FileVerdict(
                record, everything, {bytes.fromhex(t): w for t, w in affected.items()}
            )
        keys = Keys.load(raw["keys"]) if raw["keys"] is not None else None
        return cls(
            Path(raw["base_dir"]),
            Selection(Plan(files, skip=raw["skip"]), verdicts, keys),
            frozenset(raw["named"]),
            raw["canary_seed"],
            {
                p: Uncollected(Level(level), tests, seconds)
                for p, (level, tests, seconds) in raw["uncollected"].items()
            },
        )


@dataclass(frozen=True)
class WorkerOutput:
    index: Mapping[str, tuple[str, str]]
    counts: Mapping[str, int]
    ignored: Collection[str]
    canary: Collection[str]
    cacheable: Collection[str]
    module_skips: Collection[str]
    recording: dict[str, Any] | None
    would_skip: Mapping[str, WouldSkip] = field(default_factory=dict)  # shadow mode only

    def dump(self) -> dict[str, Any]:
        return {
            "index": {nodeid: list(v) for nodeid, v in self.index.items()},
            "counts": dict(self.counts),
            "ignored": sorted(self.ignored),
            "canary": sorted(self.canary),
            "cacheable": sorted(self.cacheable),
            "module_skips": sorted(self.module_skips),
            "recording": self.recording,
            "would_skip": {n: [w.reason, w.level.value, w.seconds] for n, w in self.would_skip.items()},
        }

    @classmethod
    def load(cls, raw: object) -> WorkerOutput | None:
        if not isinstance(raw, dict):
            return None  # a crashed worker sends nothing: its tests are not published
        return cls(
            {nodeid: (p, name) for nodeid, (p, name) in raw["index"].items()},
            raw["counts"],
            raw["ignored"],
            raw["canary"],
            raw["cacheable"],
            raw["module_skips"],
            raw["recording"],
            {
                nodeid: WouldSkip(reason, Level(level), seconds)
                for nodeid, (reason, level, seconds) in raw.get("would_skip", {}).items()
            },
        )


class XdistHooks:
    def __init__(self, session: DryciSession) -> None:
        self.session = session

    def pytest_configure_node(self, node: Any) -> None:
        payload = self.session.worker_payload()
        node.workerinput["dryci"] = payload.dump() if payload is not None else None

    def pytest_testnodedown(self, node: Any, error: object | None) -> None:
        output = getattr(node, "workeroutput", None) or {}
        self.session.merge_worker_output(output.get("dryci"))
