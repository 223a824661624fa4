"""Small git repositories with a history, built in the test, for replay to walk."""

from __future__ import annotations

import subprocess
from pathlib import Path

MOD = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"
# The test imports this module by a computed name: no import statement names it, so the file level
# cannot see the dependency (the hidden dependency --mutate must find).
HIDDEN = "def answer():\n    return 42\n"
TESTS = {
    "tests/test_add.py": "from pkg.mod import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
    "tests/test_mul.py": "from pkg import mod\n\n\ndef test_mul():\n    assert mod.mul(2, 3) == 6\n",
    "tests/test_alone.py": "def test_alone():\n    assert True\n",
    "tests/test_hidden.py": (
        "import importlib\n\n\ndef test_answer():\n"
        '    assert importlib.import_module("pkg." + "hid" + "den").answer() == 42\n'
    ),
    # The expected text sits in a file whose name is computed: no data-path rule can see it.
    "tests/test_data.py": (
        "from pathlib import Path\n\n\ndef test_data():\n"
        '    assert Path(__file__).with_name("exp" + "ected.txt").read_text() == "ok\\n"\n'
    ),
}


class Repo:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        env_args = ["-c", "user.name=Replay Test", "-c", "user.email=replay@example.invalid"]
        return subprocess.run(
            ["git", *env_args, *args], cwd=self.path, check=True, capture_output=True, text=True
        ).stdout

    def write(self, files: dict[str, str]) -> None:
        for name, text in files.items():
            (self.path / name).parent.mkdir(parents=True, exist_ok=True)
            (self.path / name).write_text(text, encoding="utf-8")

    def commit(self, message: str, files: dict[str, str]) -> str:
        self.write(files)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD").strip()


def build_history(path: Path) -> tuple[Repo, dict[str, str]]:
    """The history the replay tests walk; returns the repo and {role: commit sha}."""
    repo = Repo(path)
    shas = {}
    shas["initial"] = repo.commit(
        "initial",
        {
            "pkg/__init__.py": "",
            "pkg/mod.py": MOD,
            "pkg/hidden.py": HIDDEN,
            "tests/expected.txt": "ok\n",
            "README.md": "a project\n",
            **TESTS,
        },
    )
    shas["module"] = repo.commit("mod: mul changes", {"pkg/mod.py": MOD.replace("a * b", "b * a")})
    shas["docs"] = repo.commit("docs only", {"README.md": "a project, documented\n"})
    repo.git("checkout", "-q", "-b", "side")
    repo.commit("side: add changes", {"pkg/mod.py": repo_text(repo, "pkg/mod.py").replace("a + b", "b + a")})
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "-m", "merge side", "side")
    shas["merge"] = repo.git("rev-parse", "HEAD").strip()
    shas["break"] = repo.commit(
        "tests: expect a wrong sum", {"tests/test_add.py": TESTS["tests/test_add.py"].replace("== 3", "== 4")}
    )
    shas["data"] = repo.commit("data: the expected text changes", {"tests/expected.txt": "changed\n"})
    shas["hidden"] = repo.commit("hidden: a new answer", {"pkg/hidden.py": HIDDEN.replace("42", "6 * 7")})
    return repo, shas


def repo_text(repo: Repo, name: str) -> str:
    return (repo.path / name).read_text(encoding="utf-8")
