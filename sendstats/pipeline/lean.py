"""Let pandera's polars API load without its pandas API, for the command line and build worker.

pandera's top-level ``__init__`` imports pandas and numpy, and its whole pandas API, whenever
they are installed (they are: great-tables needs pandas), even for a program that only uses
``pandera.polars``. That costs about 0.45 s in each build process, a fifth of the cold build
(issue 10). Where hypothesis is installed (development), pandera's data-synthesis strategies
import it too (0.08 s); sendstats does not synthesise data. pandera supports installs without
either: its ``__init__`` catches the ``ModuleNotFoundError`` and registers only what the
polars API needs.

:func:`install` makes pandas and numpy look absent *only while pandera's own ``__init__``
runs*, the first time pandera is imported in this process; nothing else is hidden and nothing
after it is affected, so code that imports pandas later (great-tables, the report kernels) gets
it as usual. It is installed by the ``sendstats`` command and the build's worker process, not on
``import sendstats``, so a program that imports sendstats next to pandera's pandas API is left
alone. If pandas or numpy is already imported, or pandera is, it does nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

__all__ = ["install"]

#: Hidden while pandera initialises: its pandas API's libraries, and hypothesis (a test tool,
#: present in development installs, that pandera imports for its data-synthesis strategies).
_HIDDEN = ("pandas", "numpy", "hypothesis")


def _hidden(name: str) -> bool:
    return any(name == h or name.startswith(h + ".") for h in _HIDDEN)


class _HidePandas(importlib.abc.MetaPathFinder):
    """Answer an import of pandas or numpy as pandera's ``__init__`` expects of an absent one."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if _hidden(fullname):
            raise ModuleNotFoundError(f"No module named '{fullname}'", name=fullname)
        return None


class _PanderaLoader(importlib.abc.Loader):
    """pandera's own loader, with pandas and numpy hidden while the package's ``__init__`` runs."""

    def __init__(self, inner: importlib.abc.Loader) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        hider = _HidePandas()
        sys.meta_path.insert(0, hider)
        try:
            self._inner.exec_module(module)
            _settle_check_dispatch()
        finally:
            sys.meta_path.remove(hider)


def _settle_check_dispatch() -> None:
    """Let pandera record "no pandas API" and "no hypothesis", as in an install without them.

    At the first check it runs, pandera tries once to import its pandas type helpers (which
    import pandas) and caches the outcome (``register_checks._load_get_backend_types_from_mro``).
    Made here, with pandas hidden, that attempt fails as it does without pandas, so the first
    validation does not load pandas either.
    """
    try:
        import pandera.strategies.base_strategies  # noqa: F401  (records "no hypothesis")
        from pandera.backends import register_checks

        register_checks._load_get_backend_types_from_mro()
    except (ImportError, AttributeError):  # another pandera layout: pandas may load later
        pass


class _FirstPanderaImport(importlib.abc.MetaPathFinder):
    """Wrap pandera's loader the first time ``pandera`` is imported, then step aside."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "pandera":
            return None
        sys.meta_path.remove(self)  # one import only
        if any(_hidden(m) for m in sys.modules):
            return None  # pandas or numpy is loaded already: nothing to gain
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _PanderaLoader(spec.loader)
        return spec


def install() -> None:
    """Arrange for the first import of pandera in this process to skip its pandas API."""
    if "pandera" in sys.modules or any(isinstance(f, _FirstPanderaImport) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _FirstPanderaImport())
