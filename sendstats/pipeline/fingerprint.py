"""Per-step code fingerprints: a step reruns when the code it runs changes, and not otherwise.

A step's code is its function's module and every ``sendstats`` module that module imports,
followed through the package (parents' ``__init__`` included), plus the geography maps when a
geography module is among them and each source module's file layout
(``sources/layouts/<id>.yaml``). Imports are read from the source text (a regular expression
over import statements; :mod:`ast` to find one function), so nothing is imported to
fingerprint a step. For the step's own module only the module-level
imports and those inside the step's function count, so that a module of small adapters
(:mod:`sendstats.pipeline.functions`) does not tie every step to every theme.

Because the layers only import downwards (checked by import-linter), editing a figure, a report
or a narrative changes no data step's fingerprint, and editing one source's reader changes only
the steps that run it (and, through their inputs' hashes, the steps that read their tables).
The versions of polars and pandera are part of every fingerprint: either can change outputs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

from sendstats.core import config
from sendstats.core.version import OUTPUT_LIBRARIES, __version__, library_versions

SourceReader = Callable[[Path], bytes]


def read_source(path: Path) -> bytes:
    """Return a module's or map's bytes (the one place code is read, so tests can vary it)."""
    return path.read_bytes()


@cache
def module_path(module: str) -> Path | None:
    """Return the file of a ``sendstats`` module or package, or None if there is none."""
    parts = module.split(".")
    if parts[0] != "sendstats":
        return None
    base = config.PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+(sendstats[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]+)"
    r"|import[ \t]+(sendstats[\w.]*))",
    re.MULTILINE,
)


def _imported(text: str) -> set[str]:
    """Return the ``sendstats`` modules named by the import statements in ``text``."""
    found: set[str] = set()
    for origin, names, plain in _IMPORT.findall(text):
        if plain:
            found.add(plain)
            continue
        found.add(origin)
        for item in names.strip("()").replace("\n", " ").split(","):
            name = item.split(" as ")[0].strip()
            if name and module_path(f"{origin}.{name}") is not None:
                found.add(f"{origin}.{name}")  # ``from sendstats.x import y``: y a module
    return {m for m in found if module_path(m) is not None}


@cache
def _imported_cached(text: str) -> frozenset[str]:
    """Return :func:`_imported` of a module's text, once per text (steps share most modules)."""
    return frozenset(_imported(text))


def imports_of(module: str, read: SourceReader, *, only: str | None = None) -> set[str]:
    """Return the package modules ``module`` imports (with ``only``: module level + that function).

    Raises:
        KeyError: ``only`` names no function of the module.

    """
    path = module_path(module)
    if path is None:
        return set()
    text = read(path).decode("utf-8")
    if only is None:
        return set(_imported_cached(text))
    import ast  # only the adapters' module needs its functions told apart

    tree = ast.parse(text, filename=str(path))
    lines = text.splitlines(keepends=True)
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    fn = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == only]
    if not fn:
        raise KeyError(f"{module} has no function {only!r}")
    spans = [*top, fn[0]]
    chunk = "".join("".join(lines[n.lineno - 1 : n.end_lineno]) for n in spans)
    return _imported(chunk)


def code_closure(function: str, read: SourceReader | None = None) -> list[str]:
    """Return, sorted, every package module whose code a step's ``module:function`` runs."""
    read = read or read_source
    module, name = function.split(":")
    seen = {module, *_parents(module)}
    todo = [*imports_of(module, read, only=name), *_parents(module)]
    while todo:
        current = todo.pop()
        if current in seen and current != module:
            continue
        seen.add(current)
        for dep in [*imports_of(current, read), *_parents(current)]:
            if dep not in seen:
                todo.append(dep)
    return sorted(m for m in seen if module_path(m) is not None)


def code_fingerprint(function: str, read: SourceReader | None = None) -> str:
    """Return a sha256 over the code a step runs, the maps it reads and the output libraries."""
    read = read or read_source
    h = hashlib.sha256()
    modules = code_closure(function, read)
    for module in modules:
        path = module_path(module)
        assert path is not None
        h.update(module.encode() + b"\0" + read(path) + b"\0")
    for module in modules:  # a source's file layout is part of its code
        layout = config.PACKAGE_DIR / "sources" / "layouts" / f"{module.rsplit('.', 1)[-1]}.yaml"
        if module.startswith("sendstats.sources.") and layout.is_file():
            h.update(layout.name.encode() + b"\0" + read(layout) + b"\0")
    if any(m.startswith("sendstats.geography") for m in modules):
        for path in sorted((config.PACKAGE_DIR / "geography" / "maps").glob("*.csv")):
            h.update(path.name.encode() + b"\0" + read(path) + b"\0")
    versions = library_versions()
    for lib in OUTPUT_LIBRARIES:
        h.update(f"{lib}={versions[lib]}\0".encode())
    h.update(__version__.encode())
    return h.hexdigest()


def step_fingerprint(code: str, declaration: str, inputs: dict[str, str]) -> str:
    """Return a step's fingerprint: its code, its declaration and its inputs' sha256."""
    h = hashlib.sha256()
    for part in [code, declaration, *(f"{k}={v}" for k, v in sorted(inputs.items()))]:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()
