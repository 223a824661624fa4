"""pytest entry point of the hermeticity verifier: options and registration only.

Nothing is imported or active unless ``--dryci-verify`` (or one of the options that imply it) is given;
the recording machinery lives in ``dryci.verify.session`` and is imported only then.
"""

from __future__ import annotations

import argparse

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dryci-verify", "DryCI hermeticity verifier")
    group.addoption(
        "--dryci-verify",
        action="store_true",
        dest="dryci_verify",
        default=False,
        help="run every selected test, record the repository files each test file uses, and report those "
        "the dependency graph (repo_dagger.yaml) does not contain",
    )
    group.addoption(
        "--dryci-verify-strict",
        action="store_true",
        dest="dryci_verify_strict",
        default=False,
        help="fail the run when a test file uses a file its dependency graph misses (implies --dryci-verify)",
    )
    group.addoption(
        "--dryci-verify-json",
        action="store",
        dest="dryci_verify_json",
        default=None,
        metavar="PATH",
        help="write the findings and suggested rules as JSON to PATH (implies --dryci-verify)",
    )
    group.addoption(
        "--dryci-verify-isolated",
        action="store_true",
        dest="dryci_verify_isolated",
        default=False,
        help="run each test file in a fresh process, in parallel, so module caching hides nothing "
        "(implies --dryci-verify)",
    )
    group.addoption(
        "--dryci-verify-jobs",
        action="store",
        dest="dryci_verify_jobs",
        default=None,
        metavar="N",
        help="processes at a time for --dryci-verify-isolated (default: the number of CPUs)",
    )
    group.addoption(
        "--dryci-verify-config",
        action="store",
        dest="dryci_verify_config",
        default=None,
        metavar="PATH",
        help="the dependency config to check (default: repo_dagger.yaml, repo_dagger.toml or "
        "pyproject.toml at the rootdir)",
    )
    group.addoption(
        "--dryci-verify-no-trace",
        action="store_true",
        dest="dryci_verify_no_trace",
        default=False,
        help="do not trace which project code runs (faster before Python 3.12, but a module that an earlier "
        "test file imported and a later one only calls goes unseen; --dryci-verify-isolated sees it)",
    )
    # Internal: an isolated-mode child writes what it recorded to PATH instead of reporting.
    group.addoption(
        "--dryci-verify-record",
        action="store",
        dest="dryci_verify_record",
        default=None,
        help=argparse.SUPPRESS,
    )


def _enabled(config: pytest.Config) -> bool:
    return bool(
        config.getoption("dryci_verify")
        or config.getoption("dryci_verify_strict")
        or config.getoption("dryci_verify_json")
        or config.getoption("dryci_verify_isolated")
        or config.getoption("dryci_verify_record")
    )


def pytest_configure(config: pytest.Config) -> None:
    if not _enabled(config):
        return
    from dryci.verify.session import VerifySession, XdistHooks

    session = VerifySession.from_config(config)
    config.pluginmanager.register(session, "dryci-verify-session")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(session), "dryci-verify-xdist")
