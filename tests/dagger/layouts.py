"""Small projects in each common layout, for ``dryci init`` and zero-config tests.

Every layout has a package, tests importing it, and a test or module reading a data file through its
own location, so a correct inferred config gives each test file a closure with the package and the data.
``DATA[name]`` is (the data file, the test node that reads it).
"""

from __future__ import annotations

from pathlib import Path

_TABLE = (
    "from pathlib import Path\n\n"
    'TABLE = Path(__file__).parent / "data" / "table.txt"\n\n\n'
    "def rows():\n    return TABLE.read_text().split()\n"
)
_CORE = "def double(x):\n    return 2 * x\n"
_TEST_CORE = "from {pkg}.core import double\n\n\ndef test_double():\n    assert double(2) == 4\n"
_TEST_TABLE = "from {pkg}.table import rows\n\n\ndef test_rows():\n    assert rows() == ['a', 'b']\n"

LAYOUTS: dict[str, dict[str, str]] = {
    # mypkg/ next to tests/; the root conftest.py puts the root on sys.path.
    "flat": {
        "pyproject.toml": '[project]\nname = "mypkg"\n\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n',
        "conftest.py": "",
        "mypkg/__init__.py": "",
        "mypkg/core.py": _CORE,
        "mypkg/table.py": _TABLE,
        "mypkg/data/table.txt": "a b\n",
        "tests/test_core.py": _TEST_CORE.format(pkg="mypkg"),
        "tests/test_table.py": _TEST_TABLE.format(pkg="mypkg"),
    },
    # src/ layout, pytest's pythonpath names src; uv.lock is a global dependency.
    "src": {
        "pyproject.toml": '[tool.pytest.ini_options]\ntestpaths = ["tests"]\npythonpath = ["src"]\n',
        "uv.lock": "version = 1\n",
        "src/mypkg/__init__.py": "",
        "src/mypkg/core.py": _CORE,
        "src/mypkg/table.py": _TABLE,
        "src/mypkg/data/table.txt": "a b\n",
        "tests/test_core.py": _TEST_CORE.format(pkg="mypkg"),
        "tests/test_table.py": _TEST_TABLE.format(pkg="mypkg"),
    },
    # acme is a namespace package (no __init__.py); settings in pytest.ini.
    "namespace": {
        "pytest.ini": "[pytest]\ntestpaths = tests\npythonpath = src\n",
        "src/acme/widgets/__init__.py": "",
        "src/acme/widgets/core.py": _CORE,
        "src/acme/widgets/table.py": _TABLE,
        "src/acme/widgets/data/table.txt": "a b\n",
        "tests/test_core.py": _TEST_CORE.format(pkg="acme.widgets"),
        "tests/test_table.py": _TEST_TABLE.format(pkg="acme.widgets"),
    },
    # Tests inside the package; settings in setup.cfg; a test reads its data with os.path.
    "tests-in-package": {
        "setup.cfg": "[tool:pytest]\ntestpaths = mypkg\n",
        "mypkg/__init__.py": "",
        "mypkg/core.py": _CORE,
        "mypkg/tests/__init__.py": "",
        "mypkg/tests/test_core.py": _TEST_CORE.format(pkg="mypkg"),
        "mypkg/tests/data/table.txt": "a b\n",
        "mypkg/tests/test_table.py": (
            "import os\n\n"
            "HERE = os.path.dirname(os.path.abspath(__file__))\n\n\n"
            "def test_rows():\n"
            '    with open(os.path.join(HERE, "data", "table.txt")) as f:\n'
            "        assert f.read().split() == ['a', 'b']\n"
        ),
    },
    # tests/ is a package at the top with a helper module; a top-level module; settings in tox.ini.
    "tests-at-top": {
        "tox.ini": "[tox]\nenvlist = py\n\n[pytest]\npython_files = check_*.py\n",
        "requirements.txt": "pytest\n",
        "requirements-dev.txt": "pytest-xdist\n",
        "app.py": _CORE,
        "tests/__init__.py": "",
        "tests/helpers.py": "from pathlib import Path\n\nDATA = Path(__file__).resolve().parent / 'data'\n",
        "tests/data/table.txt": "a b\n",
        "tests/check_core.py": "from app import double\n\n\ndef test_double():\n    assert double(2) == 4\n",
        "tests/check_table.py": (
            "from tests.helpers import DATA\n\n\n"
            "def test_rows():\n    assert (DATA / 'table.txt').read_text().split() == ['a', 'b']\n"
        ),
    },
}

DATA: dict[str, tuple[str, str]] = {
    "flat": ("mypkg/data/table.txt", "tests/test_table.py::test_rows"),
    "src": ("src/mypkg/data/table.txt", "tests/test_table.py::test_rows"),
    "namespace": ("src/acme/widgets/data/table.txt", "tests/test_table.py::test_rows"),
    "tests-in-package": ("mypkg/tests/data/table.txt", "mypkg/tests/test_table.py::test_rows"),
    "tests-at-top": ("tests/data/table.txt", "tests/check_table.py::test_rows"),
}


def write_layout(root: Path, name: str) -> Path:
    for rel, text in LAYOUTS[name].items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
