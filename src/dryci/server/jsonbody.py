"""Strict JSON decoding of request bodies.

The standard library accepts things a cache protocol must not: duplicate keys (the last one silently
wins), ``NaN``/``Infinity``, integers of thousands of digits, lone UTF-16 surrogates and nesting deep
enough to exhaust the stack. Each becomes a :class:`ProtocolError` naming what was wrong, which the
app turns into a 422.
"""

from __future__ import annotations

import json
from typing import Any

from dryci.exceptions import ProtocolError

MAX_DEPTH = 16
MAX_INT_DIGITS = 20


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ProtocolError("duplicate key in JSON object", field=_printable(key))
        result[key] = value
    return result


def _constant(name: str) -> Any:
    raise ProtocolError(f"{name} is not a valid JSON number", field="body")


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ProtocolError(f"integer with more than {MAX_INT_DIGITS} digits", field="body")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ProtocolError("number out of range", field="body")
    return value


def _printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")[:80]


def _check_depth_and_strings(value: Any) -> None:
    """Iterative walk: reject nesting deeper than MAX_DEPTH and strings holding lone surrogates."""
    if isinstance(value, str):
        _check_text(value)
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ProtocolError(f"JSON nested deeper than {MAX_DEPTH} levels", field="body")
        if isinstance(node, dict):
            for key, child in node.items():
                _check_text(key)
                if isinstance(child, (dict, list)):
                    stack.append((child, depth + 1))
                elif isinstance(child, str):
                    _check_text(child)
        elif isinstance(node, list):
            for child in node:
                if isinstance(child, (dict, list)):
                    stack.append((child, depth + 1))
                elif isinstance(child, str):
                    _check_text(child)


def _check_text(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ProtocolError("string contains a lone surrogate", field=_printable(text)) from None


def loads_strict(raw: bytes | bytearray) -> Any:
    """Decode a request body or raise ProtocolError; never any other exception."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"body is not valid UTF-8 (byte {exc.start})", field="body") from None
    if not text.strip():
        raise ProtocolError("empty body, expected a JSON object", field="body")
    try:
        value = json.loads(
            text,
            object_pairs_hook=_pairs,
            parse_constant=_constant,
            parse_int=_int,
            parse_float=_float,
        )
    except RecursionError:
        raise ProtocolError(f"JSON nested deeper than {MAX_DEPTH} levels", field="body") from None
    except json.JSONDecodeError as exc:
        raise ProtocolError(
            f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", field="body"
        ) from None
    except ValueError as exc:  # e.g. int() limits; message is ours or the interpreter's, never data
        raise ProtocolError(f"malformed JSON: {exc}", field="body") from None
    _check_depth_and_strings(value)
    return value
