"""Real distributions for the key tests: tiny pure-Python wheels, and a throwaway venv to install them in.

A wheel is a zip with the package, ``METADATA``, ``WHEEL``, ``RECORD`` and maybe ``entry_points.txt``
(PEP 427); ``Venv.install`` unpacks it and removes the version it replaces, as pip does. The venv is
made without pip (fast) and sees the test environment's packages (pytest, DryCI) through a ``.pth``
file placed after its own site-packages, so what is installed into it wins, as in a real environment.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["BASE", "Venv", "build_wheel", "make_venv", "venv", "wheels"]

# What the `venv` fixture installs: a library, a library requiring another, and a pytest plugin.
BASE = ("tinylib==1.0", "tinydep==1.0", "tinywrap==1.0", "pytest-tinyplug==1.0")


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(
    folder: Path,
    name: str,
    version: str,
    files: dict[str, str],
    requires: tuple[str, ...] = (),
    entry_points: str = "",
) -> Path:
    """Write ``name-version-py3-none-any.whl`` into ``folder``; ``files``: path in the wheel -> text."""
    tag = name.replace("-", "_")
    dist_info = f"{tag}-{version}.dist-info"
    metadata = "\n".join(
        ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
        + [f"Requires-Dist: {requirement}" for requirement in requires]
    )
    contents = {path: text.encode() for path, text in files.items()}
    contents[f"{dist_info}/METADATA"] = (metadata + "\n").encode()
    contents[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: dryci-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    if entry_points:
        contents[f"{dist_info}/entry_points.txt"] = entry_points.encode()
    record = [_record_line(path, data) for path, data in contents.items()]
    record.append(f"{dist_info}/RECORD,,")
    contents[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / f"{tag}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in contents.items():
            archive.writestr(path, data)
    return wheel


@dataclass(frozen=True)
class Venv:
    path: Path
    python: Path
    site_packages: Path
    wheels: Path

    def install(self, *requirements: str) -> None:
        """Install ``name==version`` wheels from the wheel folder, replacing an installed version.

        Done as pip does for a pure wheel (remove the old version's RECORD files, unzip the new one),
        without pip's startup (~5 s here): the test needs the files on disk, not pip."""
        for requirement in requirements:
            name, version = requirement.split("==")
            tag = name.replace("-", "_")
            for old in self.site_packages.glob(f"{tag}-*.dist-info"):
                for line in (old / "RECORD").read_text().splitlines():
                    target = self.site_packages / line.split(",", 1)[0]
                    if target.is_file():
                        target.unlink()
                for folder in sorted({p.parent for p in old.rglob("*")} | {old}, reverse=True):
                    if folder.is_dir() and not any(folder.iterdir()):
                        folder.rmdir()
            with zipfile.ZipFile(self.wheels / f"{tag}-{version}-py3-none-any.whl") as archive:
                archive.extractall(self.site_packages)
            for stale in self.site_packages.glob("*/__pycache__"):
                # A same-size source written within the same second must not run from an old .pyc.
                for pyc in stale.glob("*.pyc"):
                    pyc.unlink()


def make_venv(path: Path, wheels: Path) -> Venv:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    own = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    outer = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    # After the venv's own site-packages (a .pth adds its folders at the end), as site dirs so their
    # own .pth files (an editable DryCI) count too.
    lines = [f"import site; site.addsitedir({folder!r})" for folder in outer]
    Path(own, "zz-outer-environment.pth").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Venv(path, python, Path(own), wheels)


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheels")
    for version in ("1.0", "2.0"):
        build_wheel(folder, "tinylib", version, {"tinylib/__init__.py": f"VALUE = {version!r}\n"})
        build_wheel(folder, "tinydep", version, {"tinydep.py": f"VALUE = {version!r}\n"})
        build_wheel(
            folder,
            "pytest-tinyplug",
            version,
            {"tinyplug.py": f"VERSION = {version!r}\n"},
            entry_points="[pytest11]\ntinyplug = tinyplug\n",
        )
    build_wheel(
        folder,
        "tinywrap",
        "1.0",
        {"tinywrap/__init__.py": "import tinydep\n\n\ndef wrapped():\n    return tinydep.VALUE\n"},
        requires=("tinydep>=1",),
    )
    return folder


@pytest.fixture
def venv(tmp_path_factory: pytest.TempPathFactory, wheels: Path) -> Venv:
    made = make_venv(tmp_path_factory.mktemp("venv") / "venv", wheels)
    made.install(*BASE)
    return made
