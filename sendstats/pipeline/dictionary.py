"""Write the data dictionary of the built tables, from the schemas the build validates with.

Every column of every table is described once, in its pandera model (``Field(description=...)``).
After a build that wrote any table, this writes ``<data>/data_dictionary.json`` from the models
named in the step table, so the methods page (which may not import the sources) shows the very
contract the build checked, not a copy of it.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from sendstats.core import config
from sendstats.core import io as sio
from sendstats.pipeline.table import STEPS

DICTIONARY_FILE = "data_dictionary.json"

#: Models of the tables whose step checks them with a function rather than a model.
MODELS: dict[str, str] = {
    "metrics/<theme>.parquet": "sendstats.metrics.schema:MetricsTable",
    "metrics/benchmarks.parquet": "sendstats.benchmarking.schema:BenchmarksTable",
}


def _entries() -> list[tuple[str, str]]:
    tidy = [(s.writes, s.schema) for s in STEPS if s.kind == "tidy" and s.schema]
    return [*tidy, *MODELS.items()]


def dictionary() -> list[dict[str, Any]]:
    """Return, per table, its path, description and columns (name, type, nullable, meaning)."""
    out = []
    for path, target in _entries():
        module, name = target.split(":")
        schema = getattr(importlib.import_module(module), name).to_schema()
        columns = [
            {
                "name": col_name,
                "type": str(col.dtype),
                "nullable": bool(col.nullable),
                "description": col.description or "",
            }
            for col_name, col in schema.columns.items()
        ]
        out.append(
            {"path": path, "description": (schema.description or "").strip(), "columns": columns}
        )
    return out


def write_dictionary() -> None:
    """Write ``<data>/data_dictionary.json`` atomically."""
    sio.atomic_write_text(
        config.data_dir() / DICTIONARY_FILE, json.dumps(dictionary(), indent=1) + "\n"
    )
