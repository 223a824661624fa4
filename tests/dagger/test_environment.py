"""The parts of every key (variables) and the distribution sets of a test file's key, without pytest runs."""

from __future__ import annotations

from pathlib import Path

from dryci.dagger.config import Config
from dryci.dagger.distributions import Distribution, Installed, normalize
from dryci.dagger.environment import env_parts

CONFIG = Config(source=Path("repo_dagger.yaml"), base_dir=Path("."), content_hash="", hash_env=("APP_MODE",))


def test_the_default_variables_and_every_locale_one_are_in_the_key_when_set() -> None:
    env = {"PYTHONWARNINGS": "error", "LC_TIME": "de_DE", "HOME": "/root", "TZ": "UTC"}
    assert env_parts(CONFIG, env) == {
        "env:PYTHONWARNINGS": "error",
        "env:TZ": "UTC",
        "env:LC_TIME": "de_DE",
        "env:APP_MODE": "<unset>",
    }


def test_an_empty_hash_env_variable_differs_from_an_unset_one() -> None:
    assert env_parts(CONFIG, {"APP_MODE": ""}) != env_parts(CONFIG, {})


INSTALLED = Installed(
    {
        "scipy": Distribution("scipy", "1.13.0", ("numpy",)),
        "numpy": Distribution("numpy", "2.0.0"),
        "pandas": Distribution("pandas", "2.2.0", ("numpy", "python-dateutil", "not-installed")),
        "python-dateutil": Distribution("python-dateutil", "2.9.0", ("six",)),
        "six": Distribution("six", "1.16.0"),
    },
    {"scipy": ("scipy",), "numpy": ("numpy",), "pandas": ("pandas",), "dateutil": ("python-dateutil",)},
)


def test_a_distribution_brings_its_installed_requirements_transitively() -> None:
    assert INSTALLED.closure(INSTALLED.of_modules(["pandas"])) == {
        "pandas",
        "numpy",
        "python-dateutil",
        "six",
    }
    assert INSTALLED.closure(INSTALLED.of_modules(["scipy", "unknown_module"])) == {"scipy", "numpy"}


def test_the_fingerprint_changes_with_a_version_of_the_set_only() -> None:
    before = INSTALLED.fingerprint({"scipy", "numpy"})
    upgraded = Installed({**INSTALLED.dists, "six": Distribution("six", "1.17.0")}, dict(INSTALLED.modules))
    assert upgraded.fingerprint({"scipy", "numpy"}) == before
    assert upgraded.fingerprint({"pandas", "six"}) != INSTALLED.fingerprint({"pandas", "six"})


def test_a_missing_distribution_is_labelled_not_installed() -> None:
    assert INSTALLED.label("pyarrow") == "not installed"


def test_names_are_normalized_as_pep_503_says() -> None:
    assert normalize("Typing_Extensions") == normalize("typing.extensions") == "typing-extensions"
