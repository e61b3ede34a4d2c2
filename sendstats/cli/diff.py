"""The ``sendstats diff`` report: what a newer release changed in values an older one published.

Values that differ fall in four kinds, counted apart: **revised** (a number replaced by
another), **became suppressed or unavailable** (a number replaced by a marker such as ``c`` or
``x``), **published where a marker was**, and **marker changed**. The revised values are listed
largest first (by % change, then by size), in at most :data:`WIDTH` columns.
"""

from __future__ import annotations

import textwrap

import polars as pl

from sendstats.cli.usage import UsageError
from sendstats.metrics import revisions

WIDTH = 100
KINDS = {
    "revised": "revised",
    "suppressed": "became suppressed or unavailable",
    "published": "published where a marker was",
    "marker": "marker changed",
}

HEADINGS = {
    "suppressed": "Values that became suppressed or unavailable",
    "published": "Values published where a marker was",
    "marker": "Values whose marker changed",
}


def classify(diff: pl.DataFrame) -> pl.DataFrame:
    """Add ``kind``: revised, suppressed, published or marker (see the module docstring)."""
    old_ok, new_ok = pl.col("old_status") == "ok", pl.col("new_status") == "ok"
    return diff.with_columns(
        pl.when(old_ok & new_ok)
        .then(pl.lit("revised"))
        .when(old_ok)
        .then(pl.lit("suppressed"))
        .when(new_ok)
        .then(pl.lit("published"))
        .otherwise(pl.lit("marker"))
        .alias("kind")
    )


def _number(value: float | None, measure: str) -> str:
    if value is None:
        return "-"
    if measure.endswith("_pct"):
        return f"{value:.1f}%"
    if measure.endswith("_count"):
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def _change(row: dict[str, object], measure: str) -> str:
    diff, pct = row["difference"], row["pct_difference"]
    assert isinstance(diff, float)
    if measure.endswith("_pct"):
        text = f"{abs(diff):.1f} pp"
        return ("±" if text == "0.0 pp" else "+" if diff > 0 else "-") + text
    text = f"{'+' if diff > 0 else '-'}{abs(diff):,.0f}"
    return text + (f" ({pct:+.1f}%)" if isinstance(pct, float) else "")


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        out = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return ("  " + "  ".join(out)).rstrip()

    return [line(header), *(line(r) for r in rows)]


def load(source: str) -> pl.DataFrame:
    """Return the release-aware tidy table of ``source``, or a usage error naming the known."""
    try:
        return revisions.tidy_table(source)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def check_releases(tidy: pl.DataFrame, source: str, *releases: str) -> None:
    """Refuse a release label the table does not hold, listing those it does."""
    held = sorted(tidy["release"].unique().to_list())
    for rel in releases:
        if rel not in held:
            raise UsageError(
                f"release {rel!r} of {source} is not in the built table; releases held: "
                f"{', '.join(held)}"
            )


def diff_text(diff: pl.DataFrame, source: str, old: str, new: str, limit: int = 20) -> str:
    """Return the readable report of ``diff`` (from :func:`revisions.diff_releases`)."""
    diff = classify(diff)
    counts = {k: diff.filter(pl.col("kind") == k).height for k in KINDS}
    lines = [f"{source}: {diff.height:,} values differ between releases {old} and {new}"]
    kinds = "; ".join(f"{counts[k]:,} {label}" for k, label in KINDS.items())
    lines += textwrap.wrap(kinds, WIDTH, initial_indent="  ", subsequent_indent="  ")
    if diff.height == 0:
        return "\n".join(lines)
    revised = diff.filter(pl.col("kind") == "revised")
    if revised.height:
        summary = (
            revised.group_by("measure", "geographic_level")
            .agg(
                pl.len().alias("n"),
                pl.col("year").min().alias("first"),
                pl.col("year").max().alias("last"),
                pl.col("pct_difference").abs().max().alias("largest"),
                pl.col("difference").abs().max().alias("largest_abs"),
            )
            .sort(["largest", "n", "measure"], descending=[True, True, False], nulls_last=True)
        )
        rows = [
            [
                r["measure"],
                r["geographic_level"],
                f"{r['n']:,}",
                f"{r['first']}" + (f"-{r['last']}" if r["last"] != r["first"] else ""),
                _largest(r),
            ]
            for r in summary.iter_rows(named=True)
        ]
        lines += ["", "Revised values by measure, largest relative change first"]
        lines += _table(["Measure", "Level", "Revised", "Years", "Largest"], rows, {2, 4})
        top = revised.head(limit)
        rows = [
            [
                r["measure"],
                str(r["year"]),
                str(r["area_name"])[:22],
                _number(r["old_value"], r["measure"]),
                _number(r["new_value"], r["measure"]),
                _change(r, r["measure"]),
            ]
            for r in top.iter_rows(named=True)
        ]
        lines += ["", f"Largest revisions ({top.height} of {revised.height:,})"]
        lines += _table(["Measure", "Year", "Area", "Old", "New", "Change"], rows, {3, 4, 5})
    for kind in ("suppressed", "published", "marker"):
        part = diff.filter(pl.col("kind") == kind)
        if part.height == 0:
            continue
        by = (
            part.group_by("measure", "old_status", "new_status")
            .len()
            .sort(["len", "measure"], descending=[True, False])
        )
        rows = [
            [r["measure"], _status(r["old_status"]), _status(r["new_status"]), f"{r['len']:,}"]
            for r in by.iter_rows(named=True)
        ]
        lines += ["", f"{HEADINGS[kind]} ({part.height:,}), not counted as revisions"]
        lines += _table(["Measure", "Was", "Now", "Values"], rows, {3})
        if "err" in by["new_status"].to_list():
            lines.append(
                "  'err': a published value sendstats knows to be wrong (kept out of sums)"
            )
    return "\n".join(lines)


def _status(status: str) -> str:
    return "a number" if status == "ok" else f"'{status}'"


def _largest(row: dict[str, object]) -> str:
    """Return a measure's largest revision: in points for a percentage, else in % of the old."""
    if str(row["measure"]).endswith("_pct"):
        return f"{row['largest_abs']:.2f} pp"
    return f"{row['largest']:.1f}%" if row["largest"] is not None else ""
