"""End to end: precise manifests shared through a real DryCI server between two checkouts."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpcore  # noqa: F401
import pytest

# Imported once in the outer process: pytester's in-process runs drop modules first imported inside
# (the HTTP stack included, whose exception classes would then no longer match).
import dryci.plugin.settings
import dryci.precise.remote
import dryci.store.remote  # noqa: F401
from tests.live_server import LiveServer, ProjectTokens, start_server
from tests.precise.conftest import edit, precise_line, ran


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    directory = tmp_path_factory.mktemp("server")
    live = start_server(f"sqlite:///{directory / 'dryci.db'}", ["--rate-limit", "0"], log_dir=directory)
    yield live
    live.stop()


def use(env: pytest.MonkeyPatch, server: LiveServer, token: str) -> None:
    env.setenv("DRYCI_SERVER", server.url)
    env.setenv("DRYCI_TOKEN", token)


def run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest("--dryci-precise", "--dryci-explain", "-v", *args)


def second_checkout(project: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project in another directory, without its cache (no local manifests)."""
    other = tmp_path_factory.mktemp("checkout") / "repo"
    shutil.copytree(
        project.path, other, ignore=shutil.ignore_patterns(".pytest_cache", "__pycache__", "basetemp")
    )
    return other


def local_manifests(root: Path) -> list[Path]:
    return sorted((root / ".pytest_cache" / "d" / "dryci" / "precise").glob("*.json"))


def manifests_on(server: LiveServer, tokens: ProjectTokens) -> int:
    rows = json.loads(server.admin("--json", "projects", "list"))
    return int(next(row["manifests"] for row in rows if row["project"] == tokens.project))


def test_a_second_checkout_skips_and_reruns_by_the_manifest_on_the_server(
    project: pytest.Pytester,
    env: pytest.MonkeyPatch,
    server: LiveServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    tokens = server.project()
    use(env, server, tokens.write)
    first = run(project)
    first.assert_outcomes(passed=4)
    assert manifests_on(server, tokens) == 1
    assert len(local_manifests(project.path)) == 1  # the local copy is written as well

    other = second_checkout(project, tmp_path_factory)
    env.chdir(other)
    # Read-only token: this checkout only reads what CI shared.
    use(env, server, tokens.read)
    edit_other = SimpleNamespace(path=other)  # edit() only uses .path
    edit(edit_other, "src/geo/shapes.py", "    return x\n", "    return -x\n")
    skipped = run(project)
    skipped.assert_outcomes(skipped=4)
    assert precise_line(skipped).startswith("dryci precise: 4 test(s) skipped beyond the dependency hash")
    assert local_manifests(other) == []  # so the decision came from the server

    edit(edit_other, "src/geo/shapes.py", "2 * (w + h)", "(w + h) * 2")
    rerun = run(project)
    rerun.assert_outcomes(passed=1, skipped=3)
    assert ran(rerun) == {"tests/test_shapes.py::test_perimeter"}
    assert not [line for line in rerun.stdout.lines if "local manifests" in line]
    # The read-only token cannot share the new manifest: said once, the run still passes.
    (refused,) = [line for line in rerun.stdout.lines if "could not share the precise manifests" in line]
    assert "HTTP 403" in refused and rerun.ret == 0
    assert manifests_on(server, tokens) == 1


def test_a_dead_server_runs_every_test_with_one_line_and_passes(
    project: pytest.Pytester, env: pytest.MonkeyPatch, server: LiveServer
) -> None:
    tokens = server.project()
    use(env, server, tokens.write)
    run(project).assert_outcomes(passed=4)
    server.stop()
    env.setenv("DRYCI_TIMEOUT", "2")
    edit(project, "src/geo/shapes.py", "    return x\n", "    return -x\n")
    result = run(project)
    # The results store cannot answer, so nothing is skipped (as without precise mode) and the
    # manifests are not even asked for: one line says why, no traceback, exit code 0.
    result.assert_outcomes(passed=4)
    assert result.ret == 0
    (line,) = [line for line in result.stdout.lines if server.url in line]
    assert line.startswith(f"dryci: {server.url}: cannot reach the server") and "(running all tests)" in line


def test_failing_manifest_endpoints_fall_back_to_the_local_manifests_with_one_line(
    project: pytest.Pytester, env: pytest.MonkeyPatch
) -> None:
    from tests.store.fake_servers import MemoryCache, Reply, serve

    cache = MemoryCache()

    def respond(path: str, body: object) -> Reply:
        if "/manifests/" in path:
            return Reply(503, {"detail": "database unavailable"}, {"Retry-After": "0"})
        return cache(path, body)

    with serve(respond) as fake:
        env.setenv("DRYCI_SERVER", fake.url)
        env.setenv("DRYCI_TIMEOUT", "2")
        first = run(project)
        first.assert_outcomes(passed=4)
        edit(project, "src/geo/shapes.py", "    return x\n", "    return -x\n")
        second = run(project)
    second.assert_outcomes(skipped=4)
    assert precise_line(second).startswith("dryci precise: 4 test(s) skipped beyond the dependency hash")
    for result in (first, second):
        assert result.ret == 0
        (line,) = [line for line in result.stdout.lines if line.startswith("dryci: ") and fake.url in line]
        assert line.startswith(
            f"dryci: precise mode uses the local manifests for this run: {fake.url}: HTTP 503"
        )
    # The results went to the server all the same: the manifest failures did not open its breaker.
    paths = [r.path for r in fake.requests]
    assert paths.index("/api/v2/publish") > paths.index("/api/v2/manifests/query")
    assert "/api/v2/manifests/publish" not in paths  # not asked again in a run once it failed


def test_a_server_without_the_manifest_endpoints_means_local_manifests(
    project: pytest.Pytester, env: pytest.MonkeyPatch
) -> None:
    from tests.store.fake_servers import MemoryCache, serve

    with serve(MemoryCache()) as fake:  # answers the results API only, like a server before manifests
        env.setenv("DRYCI_SERVER", fake.url)
        first = run(project)
        first.assert_outcomes(passed=4)
        edit(project, "src/geo/shapes.py", "    return x\n", "    return -x\n")
        second = run(project)
    second.assert_outcomes(skipped=4)
    for result in (first, second):
        (line,) = [line for line in result.stdout.lines if "local manifests" in line]
        assert "does not offer precise manifests (HTTP 404" in line


def test_under_xdist_the_controller_alone_reads_and_shares_the_manifests(
    project: pytest.Pytester,
    env: pytest.MonkeyPatch,
    server: LiveServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    tokens = server.project()
    use(env, server, tokens.write)
    xdist = ("--dryci-precise", "-v", "-n", "2", "-p", "xdist")
    project.runpytest_subprocess(*xdist).assert_outcomes(passed=4)
    assert manifests_on(server, tokens) == 1

    other = second_checkout(project, tmp_path_factory)
    edit(SimpleNamespace(path=other), "src/geo/shapes.py", "2 * (w + h)", "(w + h) * 2")
    env.chdir(other)
    result = project.runpytest_subprocess(*xdist)
    result.assert_outcomes(passed=1, skipped=3)
    assert ran(result) == {"tests/test_shapes.py::test_perimeter"}
    assert local_manifests(other) == [
        other / ".pytest_cache/d/dryci/precise" / local_manifests(project.path)[0].name
    ]
