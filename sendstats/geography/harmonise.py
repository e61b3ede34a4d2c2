"""Put an LA-level table onto one geography vintage, marking series breaks.

The reorganisations are data (``sendstats/geography/maps/la_reorganisations.csv``: ``event``,
``date``,
``from_dfe``, ``to_dfe``, ``relation``, ``note``), with ``relation`` one of:

- ``recode``: same LA and boundary, new GSS code (Buckinghamshire 2020, North Yorkshire and
  Somerset 2023, Barnsley and Sheffield 2025); values carry over unchanged.
- ``split``: one LA into several (Northamptonshire 2021, Cumbria 2023). Earlier values cannot
  be allocated to the new LAs, so they are a series break; later values of the new LAs sum
  exactly back into the old LA when the vintage asked for is the old geography.
- ``approximate`` and ``part``: Dorset 2019. Bournemouth and Poole became BCP *with
  Christchurch*, which came out of Dorset county (the ``part`` link), so neither BCP nor the
  new Dorset equals its predecessors; only 835+836+837 = 838+839 is exact. Mapping them one to
  one (the ``approximate`` links) is offered only on request.

Only additive counts are ever summed; ratios are never summed (harmonise the numerator and
denominator, then divide).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import polars as pl

from sendstats.geography.crosswalk import _in_force, _read_map, _records, get_la, list_las

GEO_COLUMNS = frozenset(
    {
        "la_code_dfe", "la_code", "la_name", "new_la_code", "old_la_code", "region_code",
        "region_name", "geographic_level", "country_code", "country_name",
    }
)  # fmt: skip
HARMONISATION_LABELS = {
    "as_published": "the LA existed on the vintage; values as published",
    "aggregated": "exact sum of predecessor (or successor) LAs on the vintage's boundary",
    "aggregated_approximate": "mapped across a boundary change (Dorset 2019); not exact",
    "series_break": "cannot be put on the vintage's geography (split or boundary change)",
    "incomplete": "a contributing LA is missing or null in this period",
    "not_additive": "would need summing a non-additive value (ratio); left null",
}

_SEVERITY = {"as_published": 0, "aggregated": 1, "aggregated_approximate": 2}


@dataclass(frozen=True)
class Reorganisation:
    """One link of one reorganisation event (from one DfE code to another)."""

    event: str
    date: dt.date
    from_dfe: str
    to_dfe: str
    relation: str
    note: str


@cache
def reorganisations() -> tuple[Reorganisation, ...]:
    """Return every reorganisation link held, in date order."""
    rows = _read_map("la_reorganisations.csv")
    links = [
        Reorganisation(
            event=r["event"],
            date=dt.date.fromisoformat(r["date"]),
            from_dfe=r["from_dfe"],
            to_dfe=r["to_dfe"],
            relation=r["relation"],
            note=r["note"],
        )
        for r in rows
    ]
    return tuple(sorted(links, key=lambda link: (link.date, link.from_dfe, link.to_dfe)))


def _is_live(dfe: str, on: dt.date) -> bool:
    rec = _records()[dfe]
    return _in_force(rec.valid_from, rec.valid_to, on)


def _step(dfe: str, forward: bool, approximate: bool) -> tuple[tuple[str, ...], str]:
    """Return the LAs one reorganisation away from ``dfe`` and how values may move there."""
    links = [
        link
        for link in reorganisations()
        if link.relation != "recode" and (link.from_dfe if forward else link.to_dfe) == dfe
    ]
    targets = tuple(sorted({link.to_dfe if forward else link.from_dfe for link in links}))
    if not targets:
        return (), "series_break"
    if {link.relation for link in links} == {"split"}:
        return targets, "series_break" if forward else "aggregated"
    near = {
        link.to_dfe if forward else link.from_dfe
        for link in links
        if link.relation == "approximate"
    }
    if approximate and len(near) == 1:
        return tuple(near), "aggregated_approximate"
    return targets, "series_break"


@cache
def map_to_vintage(
    la_code_dfe: str, vintage: dt.date, *, approximate: bool = False
) -> tuple[tuple[str, ...], str]:
    """Return the vintage's LA(s) a source LA's values belong to, and the harmonisation label.

    Example: ``map_to_vintage("940", date(2020, 1, 1))`` gives ``(("928",), "aggregated")``
    (North Northamptonshire adds into Northamptonshire); ``map_to_vintage("928",
    date(2022, 1, 1))`` gives ``(("940", "941"), "series_break")``. Cached: the answer
    depends only on the held maps, and harmonising asks for every LA against a few vintages.
    """
    dfe, label = la_code_dfe, "as_published"
    for _ in range(5):
        if _is_live(dfe, vintage):
            return (dfe,), label
        rec = _records()[dfe]
        forward = rec.valid_to is not None and rec.valid_to < vintage
        targets, step = _step(dfe, forward, approximate)
        if step == "series_break" or len(targets) != 1:
            return targets, "series_break"
        dfe = targets[0]
        label = step if label == "as_published" else label
    raise RuntimeError(f"reorganisation chain too long from {la_code_dfe}")


def _overlap(a: str, b: str) -> bool:
    ra, rb = _records()[a], _records()[b]
    starts_ok = ra.valid_from is None or rb.valid_to is None or ra.valid_from <= rb.valid_to
    ends_ok = rb.valid_from is None or ra.valid_to is None or rb.valid_from <= ra.valid_to
    return starts_ok and ends_ok


@cache
def _required(target: str, sources: frozenset[str], vintage: dt.date, approximate: bool) -> str:
    """Return the ``;``-joined LAs whose values must all be present to build ``target``.

    They are the LAs mapping to ``target`` that were in force alongside ``sources`` (so
    Northamptonshire needs both North and West Northamptonshire for a period after 2021).
    """
    members = [
        dfe
        for dfe in _records()
        if map_to_vintage(dfe, vintage, approximate=approximate)[0] == (target,)
    ]
    need = {m for m in members if any(_overlap(m, s) for s in sources)}
    return ";".join(sorted(need | sources))


def harmonise_to_vintage(
    df: pl.DataFrame,
    *,
    value_cols: Sequence[str],
    additive: bool,
    vintage: dt.date,
    period_col: str = "time_period",
    dfe_col: str = "la_code_dfe",
    by: Sequence[str] | None = None,
    approximate: bool = False,
) -> pl.DataFrame:
    """Return ``df`` on the LAs in force on ``vintage``, one row per key and LA.

    Args:
        df: LA rows only, with a 3-digit code column (run :func:`canonical_codes` first).
        value_cols: the numeric columns to carry over.
        additive: True for counts (may be summed across merged or split LAs); False for
            ratios, means and medians, which are carried over only where no sum is needed.
        vintage: the date whose geography the output uses (e.g. ``date(2025, 1, 1)`` for
            153 LAs; ``date(2021, 3, 31)`` keeps Northamptonshire, summing North and West
            Northamptonshire into it for later periods).
        period_col: the period column, always part of the key.
        dfe_col: the 3-digit LA code column.
        by: key columns besides the period; default: every column that is neither a value
            nor a geography column (``la_name``, ``new_la_code``, ``region_code`` ...).
        approximate: map Bournemouth and Poole to BCP, and Dorset county to Dorset Council,
            across the 2019 boundary change (labelled ``aggregated_approximate``).

    Returns:
        Columns: keys, ``la_code_dfe``, ``la_code`` (GSS code in force on ``vintage``),
        ``la_name``, the values, ``geography_vintage`` (ISO date), ``harmonisation`` (one of
        :data:`HARMONISATION_LABELS`) and ``harmonised_from`` (``;``-joined source codes).
        Periods in which an LA of the vintage cannot be built get a row with null values
        and ``harmonisation = "series_break"``.

    """
    if dfe_col not in df.columns or df[dfe_col].null_count():
        raise ValueError(f"harmonise_to_vintage: column {dfe_col!r} must be present with no nulls")
    keys = (
        list(by)
        if by is not None
        else [
            c for c in df.columns if c not in set(value_cols) | GEO_COLUMNS | {dfe_col, period_col}
        ]
    )
    keys = [period_col, *[k for k in keys if k != period_col]]
    sources = sorted(set(df[dfe_col].to_list()))
    unknown = [s for s in sources if s not in _records()]
    if unknown:
        raise ValueError(f"harmonise_to_vintage: unknown DfE codes {unknown}")
    mapping = {s: map_to_vintage(s, vintage, approximate=approximate) for s in sources}
    links = pl.DataFrame(
        [(s, t, label) for s, (targets, label) in mapping.items() for t in targets],
        schema={"__src": pl.Utf8, "__target": pl.Utf8, "__label": pl.Utf8},
        orient="row",
    )
    data = df.select(*keys, pl.col(dfe_col).alias("__src"), *value_cols)
    joined = data.join(links, on="__src", how="inner")
    kept = _aggregate(joined.filter(pl.col("__label") != "series_break"), keys, value_cols)
    kept = _check_groups(kept, vintage, approximate, additive, value_cols)
    breaks = (
        joined.filter(pl.col("__label") == "series_break")
        .select(*keys, "__target")
        .unique()
        .join(kept.select(*keys, "__target"), on=[*keys, "__target"], how="anti")
        .with_columns(
            harmonisation=pl.lit("series_break"),
            harmonised_from=pl.lit(None, pl.Utf8),
            **{v: pl.lit(None, df.schema[v]) for v in value_cols},
        )
    )
    out = pl.concat([kept, breaks.select(kept.columns)])
    return _label(out, keys, value_cols, vintage)


def _aggregate(joined: pl.DataFrame, keys: list[str], value_cols: Sequence[str]) -> pl.DataFrame:
    sums = [pl.when(pl.col(v).null_count() == 0).then(pl.col(v).sum()).alias(v) for v in value_cols]
    return joined.group_by(*keys, "__target").agg(
        *sums,
        pl.col("__label")
        .sort_by(pl.col("__label").replace_strict(_SEVERITY, default=0))
        .last()
        .alias("harmonisation"),
        pl.col("__src").sort().str.join(";").alias("harmonised_from"),
        pl.col("__src").n_unique().alias("__n"),
    )


def _check_groups(
    kept: pl.DataFrame,
    vintage: dt.date,
    approximate: bool,
    additive: bool,
    value_cols: Sequence[str],
) -> pl.DataFrame:
    """Null out sums with a missing contributor, and any sum of a non-additive value."""
    pairs = kept.select("__target", "harmonised_from").unique()
    need = [
        _required(t, frozenset(src.split(";")), vintage, approximate)
        for t, src in pairs.iter_rows()
    ]
    kept = kept.join(
        pairs.with_columns(__need=pl.Series(need, dtype=pl.Utf8)),
        on=["__target", "harmonised_from"],
        how="left",
    )
    incomplete = (pl.col("harmonised_from") != pl.col("__need")) & (
        pl.col("harmonisation") != "as_published"
    )
    summed = pl.col("__n") > 1
    label = (
        pl.when(incomplete)
        .then(pl.lit("incomplete"))
        .when(summed & pl.lit(not additive))
        .then(pl.lit("not_additive"))
        .otherwise(pl.col("harmonisation"))
    )
    kept = kept.with_columns(label.alias("harmonisation"))
    bad = pl.col("harmonisation").is_in(["incomplete", "not_additive"])
    return kept.with_columns(
        [pl.when(bad).then(None).otherwise(pl.col(v)).alias(v) for v in value_cols]
    ).drop("__need", "__n")


def _label(
    out: pl.DataFrame, keys: list[str], value_cols: Sequence[str], vintage: dt.date
) -> pl.DataFrame:
    targets = sorted(set(out["__target"].to_list()))
    las = {t: get_la(t, vintage) for t in targets}
    names = pl.DataFrame(
        {
            "__target": targets,
            "la_code": [las[t].la_code for t in targets],
            "la_name": [las[t].la_name for t in targets],
        }
    )
    return (
        out.join(names, on="__target", how="left")
        .rename({"__target": "la_code_dfe"})
        .with_columns(geography_vintage=pl.lit(vintage.isoformat()))
        .select(
            *keys,
            "la_code_dfe",
            "la_code",
            "la_name",
            *value_cols,
            "geography_vintage",
            "harmonisation",
            "harmonised_from",
        )
        .sort(*keys, "la_code_dfe")
    )


def live_on(la_code_dfe: str, on: dt.date) -> bool:
    """Return True when the LA with this DfE code was in force on ``on``."""
    return _is_live(la_code_dfe, on)


__all__ = [
    "HARMONISATION_LABELS",
    "Reorganisation",
    "harmonise_to_vintage",
    "list_las",
    "live_on",
    "map_to_vintage",
    "reorganisations",
]
