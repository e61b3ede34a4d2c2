"""Statistical neighbours (versioned data) and comparator groups with explicit averaging.

Reads ``sendstats/geography/maps/statistical_neighbours.csv``, generated once from the two DfE
children's-services statistical-neighbour workbooks used by LAIT (``sn_april_2021.xlsx`` and
``sn_may_2025.xlsx``, sheet ``LA SN Groups``) and tested against them. Columns: ``sn_set``
(``2021`` or ``2025``), ``la_code_dfe``, ``legacy`` (``true`` for the workbook's "Old SNs"
block: Dorset, Poole and Bournemouth before 2019, and in the 2025 set Northamptonshire and
Cumbria), ``rank`` (1 = nearest), ``neighbour_code_dfe`` and ``closeness`` (the workbook's
band: Extremely close, Very close, Close, Somewhat close, Not close).

A :class:`ComparatorGroup` is England, a region, an SN set or any list of LAs, each carrying
its averaging rule: ``pooled`` (sum of numerators / sum of denominators), ``mean``
(unweighted mean of LA values, LAIT's convention for SN averages) or ``median``. Every output
of :func:`compare` names the group and the rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

import polars as pl

from sendstats.geography.crosswalk import (
    MAPS_DIR,
    UnknownLAError,
    all_las,
    get_la,
    regions,
    resolve_la,
)

SnSet = Literal["2021", "2025"]
Averaging = Literal["pooled", "mean", "median"]
SN_SETS: dict[str, str] = {
    "2021": "DfE children's services statistical neighbours, April 2021 model",
    "2025": "DfE children's services statistical neighbours, May 2025 model",
}
AVERAGING_RULES: dict[str, str] = {
    "pooled": "pooled: sum of numerators / sum of denominators",
    "mean": "unweighted mean of LA values",
    "median": "median of LA values",
}
CLOSENESS_BANDS = ("Extremely close", "Very close", "Close", "Somewhat close", "Not close")


@dataclass(frozen=True)
class Neighbour:
    """One statistical neighbour of an LA in one SN set."""

    la_code_dfe: str
    la_name: str
    rank: int
    closeness: str


@cache
def sn_table() -> pl.DataFrame:
    """Return the long table of both SN sets (one row per LA, set and rank)."""
    return pl.read_csv(
        MAPS_DIR / "statistical_neighbours.csv",
        schema_overrides={
            "sn_set": pl.Utf8,
            "la_code_dfe": pl.Utf8,
            "legacy": pl.Boolean,
            "neighbour_code_dfe": pl.Utf8,
        },
    )


def _check_set(sn_set: str) -> None:
    if sn_set not in SN_SETS:
        raise ValueError(f"unknown SN set {sn_set!r}; held: {', '.join(SN_SETS)}")


def neighbours(la_code_dfe: str, sn_set: SnSet = "2025") -> list[Neighbour]:
    """Return the LA's neighbours in one SN set, nearest first.

    Ten neighbours, or none when the set lists the LA without neighbours, as the April 2021
    set does for Cumberland and Westmorland and Furness (created in 2023).

    Raises:
        UnknownLAError: the LA is not in that SN set at all.

    """
    _check_set(sn_set)
    rows = sn_table().filter(pl.col("sn_set") == sn_set, pl.col("la_code_dfe") == la_code_dfe)
    if rows.is_empty():
        if la_code_dfe in _listed_without_neighbours(sn_set):
            return []
        raise UnknownLAError(la_code_dfe, [], f"LA not in the {SN_SETS[sn_set]}")
    return [
        Neighbour(code, get_la(code).la_name, rank, band)
        for code, rank, band in rows.sort("rank")
        .select("neighbour_code_dfe", "rank", "closeness")
        .iter_rows()
    ]


def is_legacy_entry(la_code_dfe: str, sn_set: SnSet) -> bool:
    """Return True when the LA's row sits in the workbook's "Old SNs" block of that set."""
    rows = sn_table().filter(pl.col("sn_set") == sn_set, pl.col("la_code_dfe") == la_code_dfe)
    return bool(rows["legacy"].any())


def _listed_without_neighbours(sn_set: str) -> frozenset[str]:
    # The April 2021 workbook lists the 2023 Cumbria successors with "-" for every neighbour.
    return frozenset({"942", "943"}) if sn_set == "2021" else frozenset()


@dataclass(frozen=True)
class ComparatorGroup:
    """A set of LAs to compare an LA with, and the rule that averages them."""

    kind: Literal["england", "region", "sn", "custom"]
    label: str
    members: tuple[str, ...] | None
    averaging: Averaging

    @property
    def rule(self) -> str:
        """Return the averaging rule in words, e.g. ``unweighted mean of LA values``."""
        return AVERAGING_RULES[self.averaging]


def england_group(averaging: Averaging = "pooled") -> ComparatorGroup:
    """Return England: every LA row present in each period."""
    return ComparatorGroup("england", "England", None, averaging)


def region_group(region_code: str, averaging: Averaging = "pooled") -> ComparatorGroup:
    """Return every LA (current and abolished) of one region, e.g. ``E12000006``."""
    names = regions()
    if region_code not in names:
        raise ValueError(f"unknown region {region_code!r}; regions: {', '.join(names)}")
    members = tuple(la.la_code_dfe for la in all_las() if la.region_code == region_code)
    return ComparatorGroup("region", names[region_code], members, averaging)


def sn_group(
    la_code_dfe: str, sn_set: SnSet = "2025", averaging: Averaging = "mean"
) -> ComparatorGroup:
    """Return an LA's 10 statistical neighbours in one set (LAIT averages them unweighted)."""
    members = tuple(n.la_code_dfe for n in neighbours(la_code_dfe, sn_set))
    label = f"Statistical neighbours of {get_la(la_code_dfe).la_name} ({sn_set} set)"
    return ComparatorGroup("sn", label, members, averaging)


def custom_group(
    las: Sequence[str], label: str, averaging: Averaging = "pooled", on: dt.date | None = None
) -> ComparatorGroup:
    """Return a user-supplied list of LAs (codes or names, resolved exactly)."""
    members = tuple(dict.fromkeys(resolve_la(q, on).la_code_dfe for q in las))
    return ComparatorGroup("custom", label, members, averaging)


def compare(
    df: pl.DataFrame,
    group: ComparatorGroup,
    *,
    value_col: str | None = None,
    numerator_col: str | None = None,
    denominator_col: str | None = None,
    scale: float = 1.0,
    period_col: str = "time_period",
    dfe_col: str = "la_code_dfe",
) -> pl.DataFrame:
    """Return the group's average per period, naming the group and the averaging rule.

    ``pooled`` needs ``numerator_col`` and ``denominator_col`` (result times ``scale``, e.g.
    100 for a percentage); ``mean`` and ``median`` use ``value_col``, or numerator /
    denominator * ``scale`` per LA when no ``value_col`` is given. LAs with a null value
    are left out and counted in ``n_missing``.

    Returns:
        ``period_col``, ``comparator``, ``comparator_kind``, ``averaging`` (the rule in
        words), ``value``, ``n_las`` (LAs averaged) and ``n_missing`` (members without a value).

    """
    data = df if group.members is None else df.filter(pl.col(dfe_col).is_in(group.members))
    if group.averaging == "pooled":
        if numerator_col is None or denominator_col is None:
            raise ValueError("pooled averaging needs numerator_col and denominator_col")
        ok = pl.col(numerator_col).is_not_null() & pl.col(denominator_col).is_not_null()
        data = data.with_columns(__ok=ok)
        value = (
            pl.col(numerator_col).filter("__ok").sum()
            / pl.col(denominator_col).filter("__ok").sum()
            * scale
        )
    else:
        if value_col is not None:
            data = data.with_columns(pl.col(value_col).cast(pl.Float64).alias("__v"))
        elif numerator_col is not None and denominator_col is not None:
            data = data.with_columns(
                (pl.col(numerator_col) / pl.col(denominator_col) * scale).alias("__v")
            )
        else:
            raise ValueError(
                f"{group.averaging} averaging needs value_col or numerator/denominator"
            )
        data = data.with_columns(__ok=pl.col("__v").is_not_null() & pl.col("__v").is_not_nan())
        vals = pl.col("__v").filter("__ok")
        value = vals.mean() if group.averaging == "mean" else vals.median()
    expected = len(group.members) if group.members is not None else None
    out = data.group_by(period_col).agg(
        value.cast(pl.Float64).alias("value"),
        pl.col("__ok").sum().cast(pl.Int64).alias("n_las"),
        (~pl.col("__ok")).sum().cast(pl.Int64).alias("__null"),
    )
    missing = (
        pl.lit(expected, pl.Int64) - pl.col("n_las") if expected is not None else pl.col("__null")
    )
    return (
        out.with_columns(
            comparator=pl.lit(group.label),
            comparator_kind=pl.lit(group.kind),
            averaging=pl.lit(group.rule),
            n_missing=missing,
        )
        .select(
            period_col, "comparator", "comparator_kind", "averaging", "value", "n_las", "n_missing"
        )
        .sort(period_col)
    )
