"""Revisions between releases: what a newer release changed in the values an older one published.

Every tidy table keeps the release each row came from, so two releases of the same source can
be compared value by value: same measure, period and area, old value, new value, difference and
% difference. Markers count as values too: a number that became ``x`` (or back) is a revision.
"""

from __future__ import annotations

from itertools import combinations

import polars as pl

from sendstats.acquire import catalog
from sendstats.core import config

KEYS = ["measure", "period_type", "year", "geographic_level", "area_code"]


def tidy_table(source_id: str) -> pl.DataFrame:
    """Read the built tidy table of a source (run ``sendstats build`` first)."""
    from sendstats.core.vocab import SEN2_SOURCE_ID, SEN2_TABLE

    tables = {SEN2_SOURCE_ID: SEN2_TABLE}
    if source_id not in tables:
        raise ValueError(f"no release-aware tidy table for {source_id!r}; known: {sorted(tables)}")
    path = config.tidy_dir() / f"{tables[source_id]}.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `sendstats build` first")
    return pl.read_parquet(path)


def diff_releases(tidy: pl.DataFrame, old: str, new: str) -> pl.DataFrame:
    """Return every value that differs between releases ``old`` and ``new``, largest first.

    Only keys present in both releases are compared (a new year is an addition, not a
    revision). Columns: the keys, ``area_name``, ``old_value``, ``new_value``, ``old_status``,
    ``new_status``, ``difference`` and ``pct_difference`` (null when the old value is 0 or
    missing), sorted by absolute % difference, then absolute difference.
    """
    for rel in (old, new):
        if tidy.filter(pl.col("release") == rel).height == 0:
            held = sorted(tidy["release"].unique().to_list())
            raise ValueError(f"release {rel!r} not in the table (held: {', '.join(held)})")
    cols = [*KEYS, "area_name", "value", "status", "source_file"]
    a = tidy.filter(pl.col("release") == old).select(cols)
    b = tidy.filter(pl.col("release") == new).select(cols)
    j = a.join(b, on=KEYS, how="inner", suffix="_new")
    changed = j.filter(
        (pl.col("status") != pl.col("status_new"))
        | ((pl.col("value") - pl.col("value_new")).abs() > 1e-9)
    )
    return (
        changed.select(
            *KEYS,
            pl.col("area_name_new").alias("area_name"),
            pl.col("source_file").alias("old_file"),
            pl.col("source_file_new").alias("new_file"),
            pl.col("value").alias("old_value"),
            pl.col("value_new").alias("new_value"),
            pl.col("status").alias("old_status"),
            pl.col("status_new").alias("new_status"),
            (pl.col("value_new") - pl.col("value")).alias("difference"),
            pl.when(pl.col("value") != 0)
            .then((pl.col("value_new") / pl.col("value") - 1) * 100)
            .alias("pct_difference"),
        )
        .with_columns(
            pl.col("pct_difference").abs().alias("_abs_pct"),
            pl.col("difference").abs().alias("_abs"),
        )
        .sort(["_abs_pct", "_abs"], descending=True, nulls_last=True)
        .drop("_abs_pct", "_abs")
    )


def summarise(diff: pl.DataFrame) -> pl.DataFrame:
    """Count revisions per measure and level, with the largest absolute % change."""
    return (
        diff.group_by("measure", "geographic_level")
        .agg(
            pl.len().alias("values_revised"),
            pl.col("year").min().alias("first_year"),
            pl.col("year").max().alias("last_year"),
            pl.col("pct_difference").abs().max().alias("largest_abs_pct_difference"),
        )
        .sort("values_revised", descending=True)
    )


def overlapping_pairs(source_id: str, tidy: pl.DataFrame) -> list[tuple[str, str]]:
    """Return the pairs of releases (old, new) of a source that publish at least one same value.

    Same value means same measure, period and area; a release that only adds new years or
    new measures does not overlap and has nothing to revise.
    """
    rels = sorted(r.release for r in catalog.get_source(source_id).releases)
    keys = {rel: tidy.filter(pl.col("release") == rel).select(KEYS) for rel in rels}
    return [
        (a, b)
        for a, b in combinations(rels, 2)
        if keys[a].join(keys[b], on=KEYS, how="semi").height > 0
    ]
