"""File layouts of the sources, kept as data beside the readers (``<source_id>.yaml``).

Which columns a file has, what each is called in sendstats, which rows are the totals, which
published percentages must follow from which counts, and which publisher errors are known:
these are facts about a publication, so they live in small YAML files that a reviewer can read
and a new release can change without touching code (as PUDL keeps its column maps). A
source's code fingerprint includes its layout, so editing one reruns that source's step.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, cast

import yaml

LAYOUTS_DIR = Path(__file__).resolve().parent


class LayoutError(ValueError):
    """A layout file is missing or does not have the shape its reader expects."""


@cache
def load_layout(source_id: str) -> dict[str, Any]:
    """Return the parsed layout of ``source_id`` (``layouts/<source_id>.yaml``).

    Raises:
        LayoutError: the file is missing, is not YAML, or is not a mapping.

    """
    path = LAYOUTS_DIR / f"{source_id}.yaml"
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except (OSError, yaml.YAMLError) as exc:
        raise LayoutError(f"{path}: cannot read the layout: {exc}") from exc
    if not isinstance(data, dict):
        raise LayoutError(f"{path}: a layout is a mapping, got {type(data).__name__}")
    return cast(dict[str, Any], data)


def layout_path(source_id: str) -> Path:
    """Return where the layout of ``source_id`` lives (for error messages and fingerprints)."""
    return LAYOUTS_DIR / f"{source_id}.yaml"
