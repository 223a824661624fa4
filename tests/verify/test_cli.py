"""`dryci verify`: its own options map to the pytest options; everything else passes through."""

from __future__ import annotations

import pytest

from dryci.verify.cli import main, pytest_args


def test_own_options_become_pytest_options_and_the_rest_pass_through() -> None:
    assert pytest_args(["--strict", "--json", "out.json", "--config=cfg.yaml", "-k", "fast", "tests/"]) == [
        "--dryci-verify",
        "--dryci-verify-strict",
        "--dryci-verify-json=out.json",
        "--dryci-verify-config=cfg.yaml",
        "-k",
        "fast",
        "tests/",
    ]


def test_arguments_after_a_double_dash_go_to_pytest_untouched() -> None:
    assert pytest_args(["--isolated", "--", "--strict"]) == [
        "--dryci-verify",
        "--dryci-verify-isolated",
        "--strict",
    ]


def test_an_option_missing_its_value_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json"], "dryci verify") == 2
    assert capsys.readouterr().err == "dryci verify: error: --json: expected a value\n"


def test_help_describes_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"], "dryci verify") == 0
    assert capsys.readouterr().out.startswith("usage: dryci verify [--strict]")
