"""The run report's wire form (``dryci.protocol.usage``): what the plugin sends is what the server takes."""

from __future__ import annotations

import pytest

from dryci.exceptions import ProtocolError
from dryci.protocol import Provenance
from dryci.protocol.usage import RunUsage, decode_run_usage


def test_a_run_report_round_trips() -> None:
    usage = RunUsage("function", 10, 4, 6, 1.25, 8.0, shadow=True, would_skip=6, missed_failures=1)
    assert decode_run_usage(usage.to_json()) == usage


def test_a_run_report_carries_its_provenance_when_known() -> None:
    usage = RunUsage("file", 3, 0, 3, 0.0, 1.5, provenance=Provenance("main", "c0ffee", "https://ci/1"))
    body = usage.to_json()
    assert body["provenance"] == {"branch": "main", "commit": "c0ffee", "run_url": "https://ci/1"}
    assert decode_run_usage(body) == usage
    assert "provenance" not in RunUsage("file", 3, 0, 3, 0.0, 1.5).to_json()


def test_the_shadow_fields_are_optional() -> None:
    body = RunUsage("file", 3, 3, 0, 0.5, 0.0).to_json()
    for name in ("shadow", "would_skip", "missed_failures"):
        del body[name]
    assert decode_run_usage(body) == RunUsage("file", 3, 3, 0, 0.5, 0.0)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"level": "module"}, "level"),
        ({"tests_run": True}, "tests_run"),
        ({"seconds_run": -1.0}, "seconds_run"),
        ({"tests_run": 4}, "tests_total"),
        ({"missed_failures": 1}, "missed_failures"),
        ({"provenance": {"branch": 3}}, "provenance.branch"),
        ({"provenance": {"tag": "v1"}}, "provenance.tag"),
    ],
)
def test_a_bad_run_report_names_its_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(ProtocolError) as raised:
        decode_run_usage({**RunUsage("file", 3, 3, 0, 0.5, 0.0).to_json(), **change})
    assert raised.value.field == field
