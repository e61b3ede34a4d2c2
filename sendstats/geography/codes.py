"""Put one set of LA codes and names on any LA-level table.

Publishers code the same LA differently: DfE EES files flip Buckinghamshire between
E10000002 and E06000060 inside one file and keep county codes for North Yorkshire and Somerset
after April 2023; ONS uses E08000038/E08000039 for Barnsley/Sheffield from April 2025; MoJ
tribunal tables swap Nottingham and Nottinghamshire's old codes. :func:`canonical_codes` adds
one stable code per DfE code and refuses anything it cannot resolve, naming the file, column,
row and value.
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from sendstats.geography.crosswalk import (
    _records,
    match_codes,
    normalise_dfe_code,
)

LA_LEVEL = "Local authority"


class LACodeError(ValueError):
    """An LA code or name in a table does not resolve, or its code and name disagree."""


def _fail(source: str, column: str, row: int | str, value: object, why: str) -> LACodeError:
    where = f"row {row}" if isinstance(row, str) else f"data row {row + 1}"
    return LACodeError(f"{source}: column {column!r}, {where}: value {value!r} {why}")


def _resolve_combo(
    values: dict[str, str | None],
    cols: dict[str, str | None],
    row: int | str,
    source: str,
    on_conflict: Literal["raise", "name"],
) -> str:
    """Return the DfE code of one (dfe, gss, name) combination, checking they agree."""
    found: dict[str, frozenset[str]] = {}
    for key in ("dfe", "gss", "name"):
        col, value = cols[key], values.get(key)
        if col is None:
            continue
        if value is None or not str(value).strip():
            raise _fail(source, col, row, value, "is empty on an LA row")
        text = str(value)
        if key == "dfe" and normalise_dfe_code(text) is None:
            raise _fail(source, col, row, value, "is not a 3-digit DfE LA code")
        codes = match_codes(text)
        if not codes:
            raise _fail(source, col, row, value, "does not resolve to any LA")
        found[key] = codes
    if on_conflict == "name" and "name" in found and len(found["name"]) == 1:
        return next(iter(found["name"]))
    common = frozenset.intersection(*found.values())
    if len(common) == 1:
        return next(iter(common))
    detail = "; ".join(f"{cols[k]}={values.get(k)!r} -> {sorted(v)}" for k, v in found.items())
    key = next(iter(found))
    why = "is ambiguous" if common else "disagrees with the other LA columns"
    raise _fail(source, str(cols[key]), row, values.get(key), f"{why} ({detail})")


def canonical_codes(
    df: pl.DataFrame,
    *,
    dfe_col: str | None = "old_la_code",
    gss_col: str | None = "new_la_code",
    name_col: str | None = "la_name",
    source: str = "<file>",
    level_col: str | None = "geographic_level",
    on_conflict: Literal["raise", "name"] = "raise",
    row_col: str | None = None,
) -> pl.DataFrame:
    """Add or overwrite ``la_code_dfe``, ``la_code`` and ``la_name`` on the LA rows of ``df``.

    Convention: ``la_code`` is one stable GSS code per DfE code, whatever the year:
    Buckinghamshire E06000060 (files also use E10000002), North Yorkshire E06000065 and
    Somerset E06000066 (DfE files keep E10000023/E10000027), Gateshead E08000037 and
    Northumberland E06000057 (E08000020/E06000048 before April 2013), and Barnsley/Sheffield
    E08000016/E08000019 (ONS's E08000038/E08000039 from April 2025 are accepted as aliases).
    Abolished LAs (Bournemouth 837, Poole 836, Dorset county 835, Northamptonshire 928,
    Cumbria 909) keep their last code. ``la_name`` is the canonical DfE EES spelling.

    Args:
        df: any table with LA codes and/or names (every column may be text).
        dfe_col: the column of 3-digit DfE codes, or None when the table has none.
        gss_col: the column of 9-character GSS codes, or None.
        name_col: the column of LA names, or None. At least one of the three must be given;
            every given column must resolve, and all to the same LA.
        source: the file name, used in error messages.
        level_col: when this column exists, only rows equal to ``"Local authority"`` are LA
            rows; others get nulls. Without it every row is an LA row.
        on_conflict: ``"name"`` trusts an unambiguous name when the code disagrees (MoJ
            tribunal tables swap Nottingham 892 and Nottinghamshire 891); default raises.
        row_col: a column holding each row's number in the raw file (e.g. ``raw_row``), named
            in errors instead of the row's position in ``df`` (which a filter may have changed).

    Raises:
        LACodeError: naming ``source``, the column, the 1-based data row and the value.

    """
    cols = {"dfe": dfe_col, "gss": gss_col, "name": name_col}
    used = {k: c for k, c in cols.items() if c is not None}
    if not used:
        raise ValueError("canonical_codes needs at least one of dfe_col, gss_col, name_col")
    missing = [c for c in used.values() if c not in df.columns]
    if missing:
        raise LACodeError(f"{source}: missing LA column(s) {missing}; has {df.columns}")
    is_la = (
        pl.col(level_col) == LA_LEVEL
        if level_col is not None and level_col in df.columns
        else pl.lit(True)
    )
    work = df.with_row_index("__row").with_columns(__is_la=is_la.fill_null(False))
    keys = [pl.col(c).cast(pl.Utf8).alias(f"__{k}") for k, c in used.items()]
    combos = (
        work.filter(pl.col("__is_la"))
        .select("__row", *keys, *([row_col] if row_col else []))
        .group_by([f"__{k}" for k in used], maintain_order=True)
        .agg(
            pl.col("__row").min(),
            (
                pl.col(row_col).sort_by("__row").first().cast(pl.Utf8) if row_col else pl.lit(None)
            ).alias("__raw_row"),
        )
    )
    resolved: list[str] = []
    for rec in combos.iter_rows(named=True):
        values = {k: rec[f"__{k}"] for k in used}
        row = rec["__raw_row"] if rec["__raw_row"] is not None else rec["__row"]
        resolved.append(_resolve_combo(values, cols, row, source, on_conflict))
    recs = _records()
    lookup = combos.drop("__row", "__raw_row").with_columns(
        la_code_dfe=pl.Series(resolved, dtype=pl.Utf8),
        la_code=pl.Series([recs[c].la_code for c in resolved], dtype=pl.Utf8),
        la_name=pl.Series([recs[c].la_name for c in resolved], dtype=pl.Utf8),
    )
    work = work.with_columns(keys).drop(
        [c for c in ("la_code_dfe", "la_code", "la_name") if c in work.columns]
    )
    out = work.join(
        lookup, on=[f"__{k}" for k in used], how="left", nulls_equal=True, maintain_order="left"
    )
    out = out.with_columns(
        [
            pl.when(pl.col("__is_la")).then(pl.col(c)).alias(c)
            for c in ("la_code_dfe", "la_code", "la_name")
        ]
    )
    front = [c for c in df.columns if c not in ("la_code_dfe", "la_code", "la_name")]
    return out.select(*front, "la_code_dfe", "la_code", "la_name")
