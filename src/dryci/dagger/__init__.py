"""dryci.dagger: the dependency analyzer. Knows nothing of pytest or HTTP.

``find_config`` / ``load_config`` read a repo_dagger config, ``analyze`` turns it and the tree into an
``Analysis`` (one dependency hash per input file, relations, closures, chains), ``environment_salt``
hashes what outside the tree changes results.
"""

from __future__ import annotations

from dryci.dagger.analysis import Analysis, analyze
from dryci.dagger.config import Config, PathRule, RegexRule, RuleActions, find_config, load_config
from dryci.dagger.filecache import default_cache_dir
from dryci.dagger.hashing import ALGORITHM_VERSION, environment_salt
from dryci.exceptions import AnalysisError, ConfigError

__all__ = [
    "ALGORITHM_VERSION",
    "Analysis",
    "AnalysisError",
    "Config",
    "ConfigError",
    "PathRule",
    "RegexRule",
    "RuleActions",
    "analyze",
    "default_cache_dir",
    "environment_salt",
    "find_config",
    "load_config",
]
