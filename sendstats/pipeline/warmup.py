"""Import a build process's modules and make its first-use set-ups ahead of its first step.

A cold build's first steps would otherwise pay these one after the other (about 0.3 s in each
process): importing the source and metric modules, pandera registering its polars check
backends (at its first check), pandera building each model's schema (at its first
validation) and the geography crosswalk loading its maps. The build runs :func:`warm` on a
second thread while it fetches (copying and hashing files, which release the interpreter); its
worker process runs it while it waits for its jobs.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

__all__ = ["warm"]


def warm(modules: Sequence[str]) -> None:
    """Import ``modules``, then set up pandera, their pandera models and the crosswalk."""
    loaded = [importlib.import_module(module) for module in modules]
    import pandera.polars as pa
    import polars as pl

    from sendstats import geography
    from sendstats.sources import validation

    code = pa.DataFrameSchema({"code": pa.Column(pl.Utf8, pa.Check.str_matches(r"^\d{3}$"))})
    validation.passes(code, pl.DataFrame({"code": ["001"]}))
    for module in loaded:  # every pandera model the process will validate
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, pa.DataFrameModel):
                validation.prepare(value)
    geography.match_codes("Leeds")
