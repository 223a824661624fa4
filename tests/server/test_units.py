"""Pure parts of the server without HTTP: strict JSON, token checks, settings, times."""

from __future__ import annotations

import pytest

from dryci.exceptions import ConfigError, ProtocolError
from dryci.server.auth import bearer_token, check_row, hash_token, new_token, token_id_of
from dryci.server.backends.base import TokenRow
from dryci.server.config import parse_listen
from dryci.server.errors import AuthError
from dryci.server.jsonbody import loads_strict
from dryci.server.timeparse import parse_duration, parse_time


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        (b'{"a": 1, "a": 2}', "a", "duplicate key"),
        (b'{"a": {"b": 1, "b": 1}}', "b", "duplicate key"),
        (b"[NaN]", "body", "NaN is not a valid JSON number"),
        (b"[-Infinity]", "body", "-Infinity is not a valid JSON number"),
        (b"[123456789012345678901]", "body", "more than 20 digits"),
        (b'["\\udfff"]', "\\udfff", "lone surrogate"),
        (b"[" * 17 + b"]" * 17, "body", "nested deeper than 16"),
        (b"\xc3\x28", "body", "not valid UTF-8"),
        (b"   ", "body", "empty body"),
    ],
)
def test_strict_json_rejects_what_the_standard_library_accepts(raw: bytes, field: str, message: str) -> None:
    with pytest.raises(ProtocolError) as info:
        loads_strict(raw)
    assert info.value.field == field
    assert message in info.value.message


def test_strict_json_accepts_ordinary_bodies_and_paired_surrogates() -> None:
    assert loads_strict(b'{"a": [1, 2.5, "\\ud83d\\ude00", null, true]}') == {
        "a": [1, 2.5, "\U0001f600", None, True]
    }
    assert loads_strict(b"[" * 16 + b"]" * 16) is not None


def _row(token: str, **changes: object) -> TokenRow:
    fields: dict[str, object] = dict(
        id=token_id_of(token),
        token_hash=hash_token(token),
        scope="read",
        namespace="",
        project_id=1,
        project="p",
        user="u",
        created_at=0.0,
        expires_at=None,
        revoked_at=None,
    )
    fields.update(changes)
    return TokenRow(**fields)  # type: ignore[arg-type]


def test_a_new_token_has_the_prefix_its_id_and_a_hash_that_is_not_the_token() -> None:
    token_id, token, token_hash = new_token()
    assert token.startswith(f"dryci_{token_id}_")
    assert token_hash == hash_token(token) != token
    assert check_row(_row(token), token, now=1.0).token_id == token_id


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"token_hash": "0" * 64}, "unknown token"),
        ({"revoked_at": 5.0}, "token revoked"),
        ({"expires_at": 5.0}, "token expired"),
    ],
)
def test_check_row_refuses_wrong_revoked_and_expired_tokens(changes: dict[str, object], message: str) -> None:
    _, token, _ = new_token()
    with pytest.raises(AuthError, match=message):
        check_row(_row(token, **changes), token, now=10.0)


def test_a_revocation_or_expiry_in_the_future_does_not_apply_yet() -> None:
    _, token, _ = new_token()
    assert check_row(_row(token, revoked_at=50.0, expires_at=60.0), token, now=10.0).scope == "read"


def test_bearer_headers_are_parsed_or_refused() -> None:
    assert bearer_token(None) is None
    assert bearer_token("Bearer dryci_a_b") == "dryci_a_b"
    assert bearer_token("bearer   dryci_a_b ") == "dryci_a_b"
    with pytest.raises(AuthError):
        bearer_token("Token dryci_a_b")


def test_listen_addresses_are_host_and_port() -> None:
    assert parse_listen("0.0.0.0:80") == ("0.0.0.0", 80)
    assert parse_listen("[::1]:8080") == ("::1", 8080)
    with pytest.raises(ConfigError, match="--listen"):
        parse_listen(":80")


def test_times_are_iso_or_durations_ago() -> None:
    assert parse_duration("90s", "--x") == 90
    assert parse_duration("2w", "--x") == 14 * 86400
    assert parse_time("1h", "--since", now=10_000.0) == 6400.0
    assert parse_time("1970-01-01T01:00:00Z", "--since", now=0.0) == 3600.0
    with pytest.raises(ConfigError, match="--since"):
        parse_time("last tuesday", "--since", now=0.0)
