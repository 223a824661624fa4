"""Module name -> project files, the way Python finds them, plus the siblings repo_dagger visits.

``a.b.c`` resolves, in every python root, to ``a/__init__.py``, ``a/b/__init__.py`` and ``a/b/c``'s
``__init__.py`` / ``.py`` / ``.pyi`` / ``.pyx`` / ``.pxd`` / ``.c`` (whichever exist): importing a module
runs every parent package first. Namespace packages (folders without ``__init__.py``) simply add nothing.
Relative imports resolve against the importing file's folder, so they work whatever the roots are.
"""

from __future__ import annotations

from dryci.dagger.globs import FileTree
from dryci.dagger.imports import ImportRef

__all__ = ["ModuleResolver"]

MODULE_SUFFIXES = (".py", ".pyi", ".pyx", ".pxd", ".c")


class ModuleResolver:
    def __init__(self, tree: FileTree, python_roots: tuple[str, ...], root_packages: tuple[str, ...]) -> None:
        self.tree = tree
        self.python_roots = python_roots
        self.root_packages = root_packages
        self._module_files: dict[tuple[str, str], tuple[str, ...]] = {}
        self._absolute: dict[str, tuple[str, ...]] = {}

    def allowed(self, module: str) -> bool:
        """root_python_packages limits absolute imports to those packages (no limit when it is empty)."""
        if not self.root_packages:
            return True
        return any(module == root or module.startswith(root + ".") for root in self.root_packages)

    def _files_of(self, folder: str, dotted: str) -> tuple[str, ...]:
        """Files of exactly module ``dotted`` below ``folder`` (no parents)."""
        key = (folder, dotted)
        cached = self._module_files.get(key)
        if cached is not None:
            return cached
        stem = dotted.replace(".", "/")
        if folder not in ("", "."):
            stem = f"{folder}/{stem}"
        found = []
        init = f"{stem}/__init__.py"
        if self.tree.is_file(init):
            found.append(init)
        found.extend(stem + suffix for suffix in MODULE_SUFFIXES if self.tree.is_file(stem + suffix))
        result = tuple(found)
        self._module_files[key] = result
        return result

    def _with_parents(self, folder: str, dotted: str) -> list[str]:
        out: list[str] = []
        parts = dotted.split(".")
        for end in range(1, len(parts) + 1):
            out.extend(self._files_of(folder, ".".join(parts[:end])))
        return out

    def absolute(self, module: str) -> tuple[str, ...]:
        """Files an absolute ``import module`` runs, in every python root."""
        cached = self._absolute.get(module)
        if cached is not None:
            return cached
        out: list[str] = []
        if module and self.allowed(module) and all(part.isidentifier() for part in module.split(".")):
            for root in self.python_roots:
                out.extend(self._with_parents(root, module))
        result = tuple(out)
        self._absolute[module] = result
        return result

    def is_project_module(self, top: str) -> bool:
        """Whether a top-level module (or namespace folder) of that name is in some python root,
        whatever ``root_python_packages`` says."""
        if not top.isidentifier():
            return True  # not a module name at all: nothing to install
        for root in self.python_roots:
            if self._files_of(root, top):
                return True
            if self.tree.is_dir(top if root in ("", ".") else f"{root}/{top}"):
                return True
        return False

    def package_folder(self, file: str, level: int) -> str | None:
        """The folder a relative import of ``level`` dots starts from; None above the base."""
        parts = file.split("/")[:-1]
        up = level - 1
        if up > len(parts):
            return None
        return "/".join(parts[: len(parts) - up]) or "."

    def relative(self, file: str, level: int, module: str) -> list[str]:
        folder = self.package_folder(file, level)
        if folder is None:
            return []
        out: list[str] = []
        init = "__init__.py" if folder == "." else f"{folder}/__init__.py"
        if self.tree.is_file(init):
            out.append(init)
        if module and all(part.isidentifier() for part in module.split(".")):
            out.extend(self._with_parents(folder, module))
        return out

    def resolve_ref(self, file: str, ref: ImportRef) -> list[str]:
        """Project files one import statement of ``file`` may load."""
        level, module, names = ref
        out: list[str] = []
        if level == 0:
            out.extend(self.absolute(module))
            for name in names:
                out.extend(self.absolute(f"{module}.{name}"))
            return out
        out.extend(self.relative(file, level, module))
        folder = self.package_folder(file, level)
        if folder is None:
            return out
        prefix = f"{module}." if module else ""
        for name in names:
            if name.isidentifier():
                out.extend(self._files_of(folder, prefix + name))
        return out

    def submodule_folders(self, file: str, level: int, module: str) -> list[str]:
        """Folders holding package ``module`` (for visit_python_all_submodules_for)."""
        stem = module.replace(".", "/")
        if level == 0:
            folders = [stem if root == "." else f"{root}/{stem}" for root in self.python_roots]
        else:
            base = self.package_folder(file, level)
            if base is None:
                return []
            folders = [stem if base == "." else f"{base}/{stem}"]
        return [folder for folder in folders if self.tree.is_dir(folder)]
