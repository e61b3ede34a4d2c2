"""Readable text about LAs for the ``sendstats la`` command: one LA in full, or the LA list.

Pure text builders: they read the crosswalk maps, the statistical-neighbour map and (when
the pinned ONS files can be resolved) the population estimates, and never print.
"""

from __future__ import annotations

import datetime as dt

from sendstats.geography.crosswalk import (
    LA_TYPES,
    GssCode,
    LocalAuthority,
    get_la,
    gss_history,
    list_las,
    name_variants,
    resolve_la,
)
from sendstats.geography.harmonise import reorganisations


def _span(start: dt.date | None, end: dt.date | None) -> str:
    if start is None and end is None:
        return "throughout (2010 on)"
    if start is None:
        return f"until {end.isoformat() if end else ''}"
    if end is None:
        return f"from {start.isoformat()}"
    return f"{start.isoformat()} to {end.isoformat()}"


def _code_line(code: GssCode) -> str:
    kind = "ONS" if code.kind == "ons" else "DfE files"
    note = f"  ({code.note})" if code.note else ""
    return f"    {code.gss_code}  {kind:9}  {_span(code.valid_from, code.valid_to)}{note}"


def _links(la: LocalAuthority) -> list[str]:
    lines = []
    for label, codes in (("Predecessors", la.predecessors), ("Successors", la.successors)):
        if codes:
            names = ", ".join(f"{get_la(c).la_name} ({c})" for c in codes)
            lines.append(f"  {label}: {names}")
    events = {
        (r.event, r.note) for r in reorganisations() if la.la_code_dfe in (r.from_dfe, r.to_dfe)
    }
    lines.extend(f"  Reorganisation {event}: {note}" for event, note in sorted(events))
    return lines


def _neighbour_lines(la_code_dfe: str) -> list[str]:
    from sendstats.geography.neighbours import SN_SETS, is_legacy_entry, neighbours

    lines = []
    for sn_set in sorted(SN_SETS, reverse=True):
        lines.append(f"  Statistical neighbours, {SN_SETS[sn_set]}:")
        try:
            found = neighbours(la_code_dfe, sn_set)  # type: ignore[arg-type]
        except LookupError:
            lines.append("    (not in this set)")
            continue
        if not found:
            lines.append("    (listed without neighbours)")
        elif is_legacy_entry(la_code_dfe, sn_set):  # type: ignore[arg-type]
            lines.append("    (legacy pre-reorganisation entry of the workbook's 'Old SNs' block)")
        lines.extend(
            f"    {n.rank:2}. {n.la_name} ({n.la_code_dfe}), {n.closeness.lower()}" for n in found
        )
    return lines


def _population_lines(la_code_dfe: str) -> list[str]:
    """Return the LA's population by age band at the latest mid-year held, from the build."""
    import polars as pl

    from sendstats.core import config

    path = config.tidy_dir() / "ons_population__population.parquet"
    if not path.is_file():
        return [f"  Population: not built yet ({path} missing: run `sendstats build`)"]
    table = pl.read_parquet(path).filter(pl.col("la_code_dfe") == la_code_dfe)
    if table.is_empty():
        return ["  Population: no held ONS estimate is on this LA's boundaries"]
    latest = table.filter(pl.col("mid_year") == table["mid_year"].max())
    parts = [
        f"aged {band.replace('_', '-')} {population:,}"
        for band, population in latest.sort("age_band").select("age_band", "population").rows()
    ]
    vintage = latest["population_vintage"][0]
    return [f"  Population ({vintage}):", "    " + "; ".join(parts)]


def profile_slug(la: LocalAuthority) -> str:
    """Return the file stem of an LA's profile: ``<dfe code>-<name>`` in lower case."""
    name = "".join(c if c.isalnum() else "-" for c in la.la_name.lower())
    return f"{la.la_code_dfe}-" + "-".join(p for p in name.split("-") if p)


def describe_la(query: str) -> str:
    """Return the LA, its codes over time, region, neighbours in each set and population.

    ``query`` is anything :func:`resolve_la` accepts (GSS code, DfE code or name variant).
    """
    la = resolve_la(query)
    type_words = LA_TYPES.get(la.la_type, la.la_type)
    lines = [
        f"{la.la_name} (DfE {la.la_code_dfe}, join code {la.la_code})",
        f"  Type: {type_words} ({la.la_type})",
        f"  Region: {la.region_name} ({la.region_code})",
        f"  In force: {_span(la.valid_from, la.valid_to)}",
        "  GSS codes:",
        *[_code_line(code) for code in gss_history(la.la_code_dfe)],
    ]
    others = [n for n in name_variants(la.la_code_dfe) if n != la.la_name]
    if others:
        lines.append(f"  Also written: {'; '.join(others)}")
    lines.extend(_links(la))
    lines.extend(_neighbour_lines(la.la_code_dfe))
    lines.extend(_population_lines(la.la_code_dfe))
    return "\n".join(lines)


def format_la_list(on: dt.date) -> str:
    """Return every LA in force on ``on`` as an aligned text table with a count line."""
    las = list_las(on)
    header = f"{len(las)} local authorities in force on {on.isoformat()}"
    width = max(len(la.la_name) for la in las)
    rows = [f"{'DfE':3}  {'GSS code':9}  {'Name':{width}}  {'Type':4}  Region"]
    for la in las:
        name = f"{la.la_name:{width}}"
        rows.append(f"{la.la_code_dfe:3}  {la.la_code:9}  {name}  {la.la_type:4}  {la.region_name}")
    return "\n".join([header, *rows])
