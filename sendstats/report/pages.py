"""The site pages' bodies: the LA index, revisions, methods and the data dictionary.

Each returns markdown that a ``.qmd`` prints, generated from the declarations, the metric
registry, the schemas and the metric tables, so no page is ever out of step with the build.
"""

from __future__ import annotations

import polars as pl

from sendstats import geography
from sendstats.acquire import catalog
from sendstats.core import config
from sendstats.metrics.tables import load_metrics


def la_index_markdown() -> str:
    """Return the site index (markdown): every LA with data, by region, linked to its profile."""
    from sendstats.geography.describe import profile_slug

    metrics = load_metrics()
    codes = (
        metrics.filter(pl.col("geographic_level") == "Local authority")
        .select("la_code_dfe")
        .unique()["la_code_dfe"]
        .to_list()
    )
    las = [geography.resolve_la(c) for c in codes]
    from sendstats.report.profile import navigation

    lines: list[str] = [navigation(0)]
    for region in sorted({la.region_name for la in las}):
        lines.append(f"\n## {region}\n")
        for la in sorted((x for x in las if x.region_name == region), key=lambda x: x.la_name):
            lines.append(f"- [{la.la_name}](la/{profile_slug(la)}.html) ({la.la_code_dfe})")
    return "\n".join(lines)


def revisions_markdown(source_id: str, top: int = 15) -> str:
    """Return the revisions page body (markdown): per release pair, a summary and the largest."""
    from sendstats.metrics import revisions
    from sendstats.report.profile import navigation

    tidy = revisions.tidy_table(source_id)
    decl = catalog.get_source(source_id)
    out: list[str] = [navigation(0)]
    for old, new in revisions.overlapping_pairs(source_id, tidy):
        diff = revisions.diff_releases(tidy, old, new)
        out.append(f"\n## {decl.title}: release {old} against release {new}\n")
        if diff.height == 0:
            out.append("No value published in both releases changed.\n")
            continue
        out.append(f"{diff.height:,} values published in both releases changed.\n")
        summary = revisions.summarise(diff)
        out.append("| measure | level | values revised | years | largest change (%) |")
        out.append("| --- | --- | ---: | --- | ---: |")
        for r in summary.iter_rows(named=True):
            big = r["largest_abs_pct_difference"]
            out.append(
                f"| {r['measure']} | {r['geographic_level']} | {r['values_revised']:,} | "
                f"{r['first_year']}-{r['last_year']} | {'' if big is None else f'{big:,.1f}'} |"
            )
        out.append(f"\nLargest {min(top, diff.height)} revisions:\n")
        out.append("| measure | year | area | old | new | change (%) |")
        out.append("| --- | ---: | --- | ---: | ---: | ---: |")
        for r in diff.head(top).iter_rows(named=True):
            old_v = r["old_status"] if r["old_value"] is None else f"{r['old_value']:,.1f}"
            new_v = r["new_status"] if r["new_value"] is None else f"{r['new_value']:,.1f}"
            pct = "" if r["pct_difference"] is None else f"{r['pct_difference']:,.1f}"
            out.append(
                f"| {r['measure']} | {r['year']} | {r['area_name']} | {old_v} | {new_v} | {pct} |"
            )
    return "\n".join(out)


def data_dictionary_markdown() -> str:
    """Return the data dictionary (markdown): every column of every table, from its schema.

    Read from ``<data>/data_dictionary.json``, which the build writes from the pandera models
    it validates with (``Field(description=...)``), so the page is the contract the build
    checked, not a copy of it.
    """
    import inspect
    import json

    path = config.data_dir() / "data_dictionary.json"
    if not path.is_file():
        return (
            f"\n## Data dictionary\n\nNot built yet: `{path}` is missing (run `sendstats build`).\n"
        )
    out = ["\n## Data dictionary {#data-dictionary}\n"]
    for table in json.loads(path.read_text(encoding="utf-8")):
        # A model's docstring, as written: indented after its first line (which Markdown would
        # set as code) and in reST's double backticks.
        about = inspect.cleandoc(table["description"]).replace("``", "`")
        out.append(f"\n### `{table['path']}`\n\n{about}\n")
        out.append("| column | type | nullable | description |")
        out.append("| --- | --- | --- | --- |")
        for col in table["columns"]:
            desc = col["description"].replace("|", "/")
            nullable = "yes" if col["nullable"] else "no"
            out.append(f"| `{col['name']}` | {col['type']} | {nullable} | {desc} |")
    return "\n".join(out)


def methods_markdown() -> str:
    """Return the methods page body (markdown): sources and pins, metric definitions, caveats.

    Generated from the source declarations and the metric registry, so it is never out of step
    with what the build read and computed.
    """
    from sendstats.metrics.registry import all_metrics
    from sendstats.report.absence import population_vintages
    from sendstats.report.profile import navigation
    from sendstats.report.sections.notes import caveat_text, scope_words

    held = population_vintages()

    toc = [
        ("sources", "Sources"),
        ("metric-definitions", "Metric definitions"),
        ("data-dictionary", "Data dictionary"),
        ("known-limits", "Known limits"),
    ]
    out = [navigation(0), "**Contents:** " + " · ".join(f"[{t}](#{i})" for i, t in toc) + "\n"]
    out.append("## Sources {#sources}\n")
    for decl in catalog.load_catalog().values():
        out.append(f"\n### {decl.title} (`{decl.id}`)\n")
        out.append(f"{decl.producer}. Licence: {decl.licence.name}. {decl.licence.attribution}\n")
        if decl.provenance_of:
            maps = ", ".join(f"`{m}`" for m in decl.provenance_of)
            out.append(
                f"Not read by the build: the provenance of the hand-kept maps {maps}, which "
                "the tests check against these files.\n"
            )
        for brk in decl.series_breaks:
            out.append(f"- Series break: {brk}")
        out.append("\n| release | published | file | sha256 | bytes | download |")
        out.append("| --- | --- | --- | --- | ---: | --- |")
        for rel in decl.releases:
            for f in rel.files:
                where = f.url + (f" (zip member `{f.member}`)" if f.member else "")
                out.append(
                    f"| {rel.release} | {rel.date_published} | {f.filename} | "
                    f"`{f.sha256[:16]}…` | {f.bytes:,} | {where} |"
                )
        for rel in decl.releases:
            out.append(f"\n*Citation ({rel.release}):* {rel.citation}")
    out.append("\n## Metric definitions {#metric-definitions}\n")
    for m in all_metrics():
        kind = "official" if m.official else f"derived by {m.derived_by} ({m.method})"
        out.append(f"\n### {m.title}\n\n`{m.id}`: {m.definition}\n")
        out.append(f"- Unit: {m.unit}; polarity: {m.polarity.replace('_', ' ')}; {kind}.")
        if m.numerator:
            out.append(f"- Numerator: {m.numerator}.")
        if m.denominator:
            out.append(f"- Denominator: {m.denominator}.")
        out.append(f"- Sources: {', '.join(m.sources)}.")
        for c in (*m.series_breaks, *m.caveats):
            kind = "Series break" if c.applies == "series_break" else "Caveat"
            out.append(f"- {kind} ({scope_words(c)}): {caveat_text(c)}")
    out.append(data_dictionary_markdown())
    out.append(
        "\n## Known limits {#known-limits}\n\n"
        "- The s251 outturn reader (DSG carried forward, line 1.9.3, negative = deficit; "
        "high-needs lines 1.2.x) is built from the publisher's data guidance "
        "and tested on small inline frames only: it has not yet met a full real file.\n"
        "- The DfE dashboard's DSG cumulative balance as % of total DSG income is derived, not "
        "official.\n- Rates per 10,000 residents and per head use ONS mid-year estimates "
        f"{held[0]} to {held[-1]}, the vintage named on every value; estimates from mid-2021 on "
        "are based on the 2021 Census and the earlier ones were not revised to match."
    )
    return "\n".join(out)
