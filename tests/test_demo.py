"""``make demo`` (example_project/demo.py), run as a real process on a copy of example_project."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_demo_shows_time_saved_then_one_file_re_running_with_its_reason() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "example_project" / "demo.py")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    summaries = [line for line in lines if line.startswith("dryci: ") and " cached, " in line]
    assert len(summaries) == 4, done.stdout
    first, second, third, fourth = summaries
    assert first.startswith("dryci: 0 of 5 tests cached") and first.endswith("5 ran (3 files new)")
    # The demo's tests take seconds, so a cached run has something to show for it.
    assert re.match(r"dryci: 5 of 5 tests cached, ~[1-9][0-9.]*s saved; 0 ran$", second), second
    assert third.startswith("dryci: 3 of 5 tests cached") and third.endswith("2 ran (1 file changed)")
    reason = "tests/test_pricing.py: since the cached pass, changed: src/example_service/discounts.py"
    assert reason in lines
    ran = set(re.findall(r"^(tests/\S+)::\S+ PASSED", done.stdout.split("Run 3:")[1], re.MULTILINE))
    assert ran == {"tests/test_pricing.py"}
    # The edit undone: the results recorded under the old sources apply again.
    assert fourth.startswith("dryci: 5 of 5 tests cached") and fourth.endswith("; 0 ran")
