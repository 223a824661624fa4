"""Before collection: analyze, open the stores, ask them, and decide at both levels.

Everything that can fail here (a bad config, an analyzer bug, an unwritable cache folder, a store
that does not answer) is said in one line and costs only the cache: the run then goes on with
every test, or with the file level alone when only the records cannot be read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dryci.dagger import Analysis, Config
from dryci.exceptions import DryciError, StoreUnavailable
from dryci.plugin.functions import FunctionLevel
from dryci.plugin.settings import Settings
from dryci.plugin.sources import Sources
from dryci.selection.decision import Level
from dryci.selection.files import forged_tags, make_plan
from dryci.selection.keys import Keys, make_keys
from dryci.selection.plan import Selection
from dryci.store.base import Store
from dryci.store.local import LocalStore

__all__ = ["RUNNING_ALL", "Planned", "plan_run"]

RUNNING_ALL = "(running all tests)"


@dataclass
class Planned:
    """What the controller knows once it has decided."""

    analysis: Analysis
    base_dir: Path
    selection: Selection
    store: Store | None
    local: LocalStore | None
    functions: FunctionLevel | None  # None at file level, or when records cannot be kept
    sources: Sources | None
    publish: bool


def _analyze(
    config_path: Path | None,
    rootpath: Path,
    settings: Settings,
    cache_dir: Path | None,
    say: Callable[[str], None],
) -> tuple[Config, str, Analysis] | None:
    from dryci.dagger import analyze, load_config
    from dryci.dagger.environment import environment

    try:
        if config_path is None:
            # Zero-config: the config `dryci init` would write, inferred in memory.
            from dryci.dagger.infer import inferred_config

            dagger_config = inferred_config(rootpath)
        else:
            dagger_config = load_config(config_path)
        analyzer_cache = cache_dir / "dagger" if cache_dir is not None else None
        env = environment(
            dagger_config,
            settings.salt,
            plugin_distributions=settings.plugin_distributions,
            plugin_modules=settings.plugin_modules,
            options=dict(settings.key_options),
            cache_dir=analyzer_cache,
        )
        salt = env.salt
        analysis = analyze(dagger_config, salt=salt, cache_dir=analyzer_cache, environment=env)
    except (DryciError, OSError) as exc:
        say(f"dryci: {exc} {RUNNING_ALL}")
        return None
    except Exception as exc:
        # A bug in the analyzer must cost the cache, never the test run.
        say(f"dryci: the analysis failed unexpectedly ({type(exc).__name__}: {exc}) {RUNNING_ALL}")
        return None
    return dagger_config, salt, analysis


def _keys(config_path: Path | None, dagger_config: Config, salt: str, analysis: Analysis) -> Keys:
    # The config without its absolute base dir, so checkouts in other places share records.
    portable = dataclasses.replace(dagger_config, base_dir=Path("."))
    globals_ = {g: analysis.digests.get(g, "missing") for g in dagger_config.global_deps}
    return make_keys(config_path, repr(portable), salt, globals_)


def plan_run(
    settings: Settings,
    config_path: Path | None,
    rootpath: Path,
    cache_dir: Path | None,
    stores: Callable[[], tuple[Store | None, LocalStore | None]],
    say: Callable[[str], None],
) -> Planned | None:
    """Decide this run; None when DryCI is off for it (said in one line).

    ``stores()`` opens the store (the server when one is configured, else the local store) and the
    local store (for the parse cache), after the analysis. Results and records both go to the first.
    """
    if settings.problem is not None:
        say(f"dryci: {settings.problem} {RUNNING_ALL}")
        return None
    analyzed = _analyze(config_path, rootpath, settings, cache_dir, say)
    if analyzed is None:
        return None
    dagger_config, salt, analysis = analyzed
    for warning in list(analysis.warnings)[:5]:
        say(f"dryci: warning: {warning}")
    publish = settings.publish
    store, local = stores()
    entries = None
    if store is not None and settings.skip:
        from dryci.protocol import key_for

        try:
            entries = store.query([key_for(h) for h in analysis.hashes.values()])
        except StoreUnavailable as exc:
            say(f"dryci: {exc.reason} {RUNNING_ALL}")
    plan = make_plan(analysis.hashes, entries, skip=settings.skip)
    forged = forged_tags(plan, entries) if entries is not None else 0
    if forged:
        say(
            f"dryci: {forged} cache entr{'y' if forged == 1 else 'ies'} failed verification "
            "(forged, or written for other sources); their tests are checked one by one"
        )
    base_dir = Path(dagger_config.base_dir)
    functions = sources = None
    keys: Keys | None = None
    verdicts: dict[str, Any] = {}
    # A server that already failed this run is not asked for records either (said once already).
    records = store if store is not None and not store.breaker_open else None
    if settings.level is Level.FUNCTION and records is not None and (publish or plan.skip):
        keys = _keys(config_path, dagger_config, salt, analysis)
        sources = Sources(base_dir, analysis.file_digest, local)
        functions = FunctionLevel(keys, analysis, sources, records)
        if plan.skip:
            candidates = [path for path, file_plan in plan.files.items() if not file_plan.fully_cached]
            try:
                verdicts = functions.decide(candidates)
            except StoreUnavailable as exc:
                say(f"dryci: the function level is off for this run: {exc.reason}")
    selection = Selection(plan, verdicts, keys)
    return Planned(analysis, base_dir, selection, store, local, functions, sources, publish)
