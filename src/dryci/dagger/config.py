"""Load ``repo_dagger`` configs (YAML or TOML) into frozen dataclasses.

Every key of the repo_dagger 1.4.0 format is accepted with the same meaning, plus ``python_roots``,
``hash_env`` and ``hash_distributions``. Every string-or-list key takes either. Unknown keys and wrong
types raise ``ConfigError`` naming the file and the dotted key, so a typo never silently weakens the
dependency graph.
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from dryci.exceptions import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]

__all__ = [
    "CONFIG_FILENAMES",
    "Config",
    "PathRule",
    "RegexRule",
    "RuleActions",
    "find_config",
    "load_config",
    "pyproject_tool",
]

# Looked up in this order; the YAML file wins when several exist (as the issue asks).
CONFIG_FILENAMES = ("repo_dagger.yaml", "repo_dagger.toml", "pyproject.toml")

_ACTION_LIST_KEYS = (
    "visit",
    "visit_siblings",
    "visit_grand_siblings",
    "visit_python_all_submodules_for",
    "exclude",
)
_ACTION_KEYS = (*_ACTION_LIST_KEYS, "visit_imported_python_modules")
_TOP_LEVEL_LIST_KEYS = (
    "inputs",
    "global_deps",
    "global_exclude",
    "root_python_packages",
    "python_roots",
    "hash_env",
)
_TOP_LEVEL_KEYS = ("base_dir", *_TOP_LEVEL_LIST_KEYS, "hash_distributions", "path_rules")


@dataclass(frozen=True)
class RuleActions:
    """What to do with a file matched by a path rule (or with each match of a regex rule)."""

    visit: tuple[str, ...] = ()
    visit_siblings: tuple[str, ...] = ()
    visit_grand_siblings: tuple[str, ...] = ()
    visit_imported_python_modules: bool = False
    visit_python_all_submodules_for: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class RegexRule:
    """``regex_rules`` entry: actions run once per match, with ``$1``, ``$2`` ... substituted."""

    pattern: str
    regex: re.Pattern[str]
    actions: RuleActions


@dataclass(frozen=True)
class PathRule:
    """``path_rules`` entry: a glob, its actions and its regex rules."""

    pattern: str
    actions: RuleActions
    regex_rules: tuple[RegexRule, ...] = ()


@dataclass(frozen=True)
class Config:
    """A loaded config. ``base_dir`` is absolute; ``content_hash`` is the sha256 of the file's bytes."""

    source: Path
    base_dir: Path
    content_hash: str
    inputs: tuple[str, ...] = ()
    global_deps: tuple[str, ...] = ()
    global_exclude: tuple[str, ...] = ()
    root_python_packages: tuple[str, ...] = ()
    python_roots: tuple[str, ...] = (".",)
    hash_env: tuple[str, ...] = ()
    # `hash_distributions: all`: every installed distribution in every key (one upgrade re-runs all);
    # a list: these in every key besides the ones each test file imports (for entry points, imports
    # of computed names, a C extension's libraries).
    hash_all_distributions: bool = False
    hash_distributions: tuple[str, ...] = ()
    path_rules: tuple[PathRule, ...] = ()


def find_config(rootdir: Path) -> Optional[Path]:
    """The config file of ``rootdir``: repo_dagger.yaml, else repo_dagger.toml, else a pyproject.toml
    with a ``[tool.repo_dagger]`` table; None when there is none."""
    for name in CONFIG_FILENAMES:
        candidate = Path(rootdir) / name
        if not candidate.is_file():
            continue
        if name != "pyproject.toml":
            return candidate
        try:
            text = candidate.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        if "repo_dagger" in pyproject_tool(text):
            return candidate
    return None


def pyproject_tool(text: str) -> dict[str, Any]:
    """The ``[tool]`` table of a pyproject.toml text; empty when it has none or is not valid TOML."""
    try:
        tool = tomllib.loads(text).get("tool")
    except tomllib.TOMLDecodeError:
        return {}
    return tool if isinstance(tool, dict) else {}


def load_config(path: Path) -> Config:
    """Read and validate a config file (``.yaml``/``.yml``, ``.toml``, or ``pyproject.toml``)."""
    path = Path(path)
    file = str(path)
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the config file: {exc.strerror or exc}", file=file) from None
    data = _parse(raw_bytes, path)
    return _build(data, path, hashlib.sha256(raw_bytes).hexdigest())


def _parse(raw: bytes, path: Path) -> dict[str, Any]:
    file = str(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("the config file is not valid UTF-8", file=file) from None
    if path.suffix == ".toml":
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"invalid TOML: {exc}", file=file) from None
        if path.name == "pyproject.toml":
            tool = data.get("tool", {})
            if not isinstance(tool, dict) or "repo_dagger" not in tool:
                raise ConfigError(
                    "pyproject.toml has no [tool.repo_dagger] table", file=file, key="tool.repo_dagger"
                )
            data = tool["repo_dagger"]
    else:
        import yaml  # only YAML configs pay for importing it

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(_yaml_problem(exc), file=file) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping of keys at the top level, got {_kind(data)}", file=file)
    return data


def _yaml_problem(exc: Exception) -> str:
    """``invalid YAML at line 3, column 7: mapping values are not allowed here``: PyYAML's own text
    quotes the line with a caret and calls the file ``"<unicode string>"``, on several lines."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
    context = getattr(exc, "context", None)
    if context:
        problem = f"{problem} ({context})"
    if mark is None:
        return f"invalid YAML: {problem}"
    # PyYAML counts lines and columns from 0; editors and compilers count from 1.
    return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"


def _build(data: dict[str, Any], path: Path, content_hash: str) -> Config:
    file = str(path)
    _reject_unknown(data, _TOP_LEVEL_KEYS, file, prefix="")
    base = data.get("base_dir", ".")
    if not isinstance(base, str):
        raise ConfigError(f"expected a string, got {_kind(base)}", file=file, key="base_dir")
    base_dir = (path.parent / base).resolve()
    lists = {key: _str_list(data.get(key), file, key) for key in _TOP_LEVEL_LIST_KEYS}
    for key in ("global_deps",):
        for item in lists[key]:
            if not (base_dir / item).is_file():
                raise ConfigError(f"file {item!r} does not exist under {base_dir}", file=file, key=key)
    python_roots = tuple(_normalize_dir(root) for root in lists["python_roots"]) or (".",)
    for root in python_roots:
        if not (base_dir / root).is_dir():
            raise ConfigError(
                f"folder {root!r} does not exist under {base_dir}", file=file, key="python_roots"
            )
    hash_all, hash_listed = _hash_distributions(data.get("hash_distributions"), file)
    return Config(
        source=path.resolve(),
        base_dir=base_dir,
        content_hash=content_hash,
        inputs=lists["inputs"],
        global_deps=lists["global_deps"],
        global_exclude=lists["global_exclude"],
        root_python_packages=lists["root_python_packages"],
        python_roots=python_roots,
        hash_env=lists["hash_env"],
        hash_all_distributions=hash_all,
        hash_distributions=hash_listed,
        path_rules=_path_rules(data.get("path_rules"), file),
    )


def _hash_distributions(value: Any, file: str) -> tuple[bool, tuple[str, ...]]:
    key = "hash_distributions"
    if value is None or value == "imported":
        return False, ()
    if value == "all":
        return True, ()
    if isinstance(value, list) and all(isinstance(item, str) and item.strip() for item in value):
        from dryci.dagger.distributions import normalize

        return False, tuple(sorted({normalize(item) for item in value}))
    raise ConfigError(
        f"expected all, imported or a list of distribution names, got {_describe(value)}", file=file, key=key
    )


def _describe(value: Any) -> str:
    return repr(value) if isinstance(value, str) else _kind(value)


def _path_rules(value: Any, file: str) -> tuple[PathRule, ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise ConfigError(
            f"expected a mapping of glob -> actions, got {_kind(value)}", file=file, key="path_rules"
        )
    rules = []
    for pattern, body in value.items():
        key = f"path_rules.{_quote(pattern)}"
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise ConfigError(f"expected a mapping of actions, got {_kind(body)}", file=file, key=key)
        _reject_unknown(body, (*_ACTION_KEYS, "regex_rules"), file, prefix=key)
        rules.append(
            PathRule(
                pattern=str(pattern),
                actions=_actions(body, file, key),
                regex_rules=_regex_rules(body.get("regex_rules"), file, f"{key}.regex_rules"),
            )
        )
    return tuple(rules)


def _regex_rules(value: Any, file: str, key: str) -> tuple[RegexRule, ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise ConfigError(f"expected a mapping of regex -> actions, got {_kind(value)}", file=file, key=key)
    rules = []
    for pattern, body in value.items():
        rule_key = f"{key}.{_quote(pattern)}"
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise ConfigError(f"expected a mapping of actions, got {_kind(body)}", file=file, key=rule_key)
        _reject_unknown(body, _ACTION_KEYS, file, prefix=rule_key)
        try:
            regex = re.compile(str(pattern))
        except re.error as exc:
            raise ConfigError(f"invalid regular expression: {exc}", file=file, key=rule_key) from None
        rules.append(RegexRule(pattern=str(pattern), regex=regex, actions=_actions(body, file, rule_key)))
    return tuple(rules)


def _actions(body: dict[str, Any], file: str, key: str) -> RuleActions:
    flag = body.get("visit_imported_python_modules", False)
    if not isinstance(flag, bool):
        raise ConfigError(
            f"expected true or false, got {_kind(flag)}",
            file=file,
            key=f"{key}.visit_imported_python_modules",
        )
    lists = {name: _str_list(body.get(name), file, f"{key}.{name}") for name in _ACTION_LIST_KEYS}
    return RuleActions(visit_imported_python_modules=flag, **lists)


def _str_list(value: Any, file: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise ConfigError(f"expected a string or a list of strings, got {_kind(value)}", file=file, key=key)


def _reject_unknown(data: dict[str, Any], allowed: tuple[str, ...], file: str, prefix: str) -> None:
    for name in data:
        if name not in allowed:
            key = f"{prefix}.{name}" if prefix else str(name)
            raise ConfigError(f"unknown key; expected one of: {', '.join(allowed)}", file=file, key=key)


def _normalize_dir(value: str) -> str:
    cleaned = value.strip().strip("/") or "."
    return Path(cleaned).as_posix()


def _quote(name: Any) -> str:
    return f'"{name}"'


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list containing a non-string" if value else "a list"
    return type(value).__name__
