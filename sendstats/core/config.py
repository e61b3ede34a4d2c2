"""Where sendstats reads and writes: data directory, raw archives, project root.

Everything is resolved from environment variables at call time (never at import), so tests
and users can point sendstats elsewhere without touching code:

- ``SENDSTATS_DATA_DIR``: the data directory, holding ``raw/`` (the cache of pinned raw files),
  ``tidy/``, ``metrics/`` and ``manifest.json``. By default ``data/`` in the sendstats project
  that holds the working directory (the nearest folder up holding both ``_quarto.yml`` and
  ``data_sources/``), else ``./data``: Quarto runs a report's cells in ``reports/``, and a plain
  ``quarto render`` must find the same data as ``sendstats report`` run at the root.
- ``SENDSTATS_ARCHIVE``: one or more raw archive folders, separated by ``os.pathsep``, where a
  pinned file is found by its sha256 whatever its name.
- ``SENDSTATS_OFFLINE``: when ``1``, never touch the network.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The build state (each step's last fingerprint), in the data directory.
STATE_FILE = ".build_state.json"

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def project_root() -> Path:
    """Return the project checkout root (holding ``data_sources/`` and ``reports/``).

    Taken from ``SENDSTATS_PROJECT_ROOT`` when set, else the parent of the package folder,
    which is right for an editable install or a run from the checkout.
    """
    env = os.environ.get("SENDSTATS_PROJECT_ROOT")
    return Path(env).resolve() if env else PACKAGE_DIR.parent


#: Files that mark a sendstats project checkout (both must be present).
PROJECT_MARKERS = ("_quarto.yml", "data_sources")


def enclosing_project(start: Path | None = None) -> Path | None:
    """Return the nearest folder at or above ``start`` (default: cwd) that is a sendstats project.

    A project folder holds both ``_quarto.yml`` and ``data_sources/``; None when no folder up
    to the filesystem root does.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if all((folder / marker).exists() for marker in PROJECT_MARKERS):
            return folder
    return None


def data_dir() -> Path:
    """Return the data directory: ``SENDSTATS_DATA_DIR``, else the enclosing project's ``data/``.

    Outside any project folder it is ``./data``.
    """
    env = os.environ.get("SENDSTATS_DATA_DIR")
    if env:
        return Path(env).resolve()
    project = enclosing_project()
    return (project or Path.cwd()).resolve() / "data"


def raw_cache_dir() -> Path:
    """Return the cache of pinned raw files: ``<data>/raw``."""
    return data_dir() / "raw"


def tidy_dir() -> Path:
    """Return the folder of validated tidy parquet tables: ``<data>/tidy``."""
    return data_dir() / "tidy"


def metrics_dir() -> Path:
    """Return the folder of metric and benchmark tables: ``<data>/metrics``."""
    return data_dir() / "metrics"


def manifest_path() -> Path:
    """Return the provenance manifest: ``<data>/manifest.json``."""
    return data_dir() / "manifest.json"


def sources_dir() -> Path:
    """Return the folder of source declarations (``data_sources/``)."""
    return project_root() / "data_sources"


def reports_dir() -> Path:
    """Return the folder of Quarto documents (``reports/``)."""
    return project_root() / "reports"


def archive_dirs() -> list[Path]:
    """Return the raw archive folders named by ``SENDSTATS_ARCHIVE`` (may be empty)."""
    env = os.environ.get("SENDSTATS_ARCHIVE", "")
    return [Path(p).resolve() for p in env.split(os.pathsep) if p.strip()]


def offline() -> bool:
    """Return True when ``SENDSTATS_OFFLINE`` forbids network access."""
    return os.environ.get("SENDSTATS_OFFLINE", "").lower() in {"1", "true", "yes"}
