"""Figures of the inclusion picture (LA profile and England overview).

Where children with plans are taught, SEN support, outcomes by SEN status, and deficits
against funding.

Every figure is registered like the others (data, chart, alt text, recipe), so each has a CSV
and a source note; LAIT-based figures cite LAIT and say it is a compilation in their recipe.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from sendstats.core.numbers import format_value, period_label
from sendstats.metrics import funding, placements, sen_support
from sendstats.report.figures.base import Figure, FigureContext, register_figure
from sendstats.report.figures.england import national_figure, variation_figure
from sendstats.report.figures.la import SN_LABEL, series_names, series_roles, trend_figure
from sendstats.report.provenance import PROVENANCE
from sendstats.report.viz import charts

GROUP_LABELS: dict[str, str] = {
    "mainstream": "Mainstream schools",
    "state_special": "State special schools",
    "independent_special": "Independent or non-maintained special schools",
    "alternative_provision": "Alternative provision",
    "post_16": "FE and post-16",
    "elsewhere": "Educated elsewhere",
    "not_recorded": "Not recorded",
}
LAIT_NOTE = (
    " Values as republished by DfE's Local Authority Interactive Tool (LAIT), a compilation of "
    "DfE statistics (secondary source)."
)

# --- LA profile ----------------------------------------------------------------------------

trend_figure(
    "placements_mainstream_trend",
    placements.share_id("mainstream"),
    "EHC plans: share taught in mainstream schools (%)",
    "% of plans with a setting",
    "Line chart of the % of EHC plans whose child or young person attends a mainstream school",
)
trend_figure(
    "placements_independent_special_growth",
    placements.index_id("independent_special"),
    "EHC plans in independent or non-maintained special schools (January 2019 = 100)",
    "Index",
    "Line chart of EHC plans in independent or non-maintained special schools, indexed to "
    "January 2019 = 100,",
)
trend_figure(
    "sen_support_trend",
    "sen_support_pupils_pct",
    "Pupils on SEN support, all schools (%)",
    "% of pupils",
    "Line chart of the % of pupils on SEN support (no EHC plan), all schools, from LAIT,",
    y_zero=True,
)
trend_figure(
    "attainment8_gap_trend",
    sen_support.gap_id("attainment8", "ehc_plan"),
    "Attainment 8 gap: no identified SEN minus pupils with an EHC plan (points)",
    "Attainment 8 points",
    "Line chart of the Attainment 8 gap between pupils with no identified SEN and pupils with "
    "an EHC plan, from LAIT,",
    y_zero=True,
)


def placement_mix_rows(ctx: FigureContext) -> pl.DataFrame:
    """Return each setting group's share of plans: the LA, its region, neighbours and England."""
    assert ctx.la is not None
    names = series_names(ctx)
    frames = []
    for group, label in GROUP_LABELS.items():
        mid = placements.share_id(group)
        la = ctx.la_bench(mid).filter(pl.col("value").is_not_null())
        if la.height == 0:
            continue
        year = la["year"].max()
        la = la.filter(pl.col("year") == year)
        region = (
            ctx.area_rows(mid, "Regional")
            .lazy()
            .filter((pl.col("area_code") == ctx.la.region_code) & (pl.col("year") == year))
        )
        england = ctx.area_rows(mid, "National").lazy().filter(pl.col("year") == year)
        for series, rows, column in (
            (names[0], la.lazy(), "value"),
            (names[1], region, "value"),
            (SN_LABEL, la.lazy(), "sn2025_value"),
            ("England", england, "value"),
        ):
            frames.append(
                rows.select(
                    pl.lit(label).alias("category"),
                    pl.lit(series).alias("series"),
                    "year",
                    pl.col(column).cast(pl.Float64).alias("value"),
                    *(
                        [pl.col("numerator"), pl.col("denominator")]
                        if column == "value"
                        else [
                            pl.lit(None, pl.Float64).alias(c) for c in ("numerator", "denominator")
                        ]
                    ),
                    *PROVENANCE,
                )
            )
    if not frames:
        return pl.DataFrame()
    # One query for every group and series.
    return pl.concat(frames, how="vertical_relaxed").filter(pl.col("value").is_not_null()).collect()


def _year(data: pl.DataFrame) -> int:
    return int(str(data["year"].max()))


def _mix_alt(ctx: FigureContext, data: pl.DataFrame) -> str:
    year = int(str(data["year"].max()))
    text = (
        f"Dot plot of where children and young people with EHC plans are taught, January {year}: "
        f"the % of plans in each type of setting for {ctx.la_name}, its region, its statistical "
        "neighbours and England."
    )
    for series in (ctx.la_name, "England"):
        rows = data.filter(pl.col("series") == series)
        parts = [f"{r['category'].lower()} {r['value']:.1f}%" for r in rows.iter_rows(named=True)]
        if parts:
            text += f" {series}: " + ", ".join(parts[:3]) + "."
    return text


register_figure(
    Figure(
        "placement_mix",
        "Where children and young people with EHC plans are taught",
        tuple(placements.share_id(g) for g in GROUP_LABELS),
        placement_mix_rows,
        lambda ctx, data: charts.dot_compare_chart(
            data.select("category", "series", "value"),
            roles=series_roles(ctx),
            title=f"Where children with EHC plans are taught, January {_year(data)}",
            subtitle="% of plans with a setting in the file",
            x_title="% of plans",
            alt_text=_mix_alt(ctx, data),
        ),
        _mix_alt,
        lambda ctx: (
            "Metrics `plans_<group>_pct` (SEN2 2025 caseload.csv, All EHC plans rows): each "
            "group's plans / plans with a setting in the file x 100, latest January; LA rows "
            "for this LA, the region's and England's published rows, and the unweighted mean of "
            "the LA's 10 May 2025 statistical neighbours (benchmarks table, sn2025_value)."
        ),
    )
)


# --- deficits against funding (profile and overview) ----------------------------------------


def deficit_rows(ctx: FigureContext) -> pl.DataFrame:
    """Return every LA's DSG balance % and block per head in the latest year with both.

    Long: one row per LA and measure, each with its own file, so the CSV and the source note
    cite both the dashboard's balance file and the allocation file.
    """
    paired = ctx.index.derived("funding_pairs", funding.pairs)
    year = funding.latest_year(paired)
    if year is None:
        return pl.DataFrame()
    rows = paired.filter(pl.col("year") == year)
    keys = ["area_name", "la_code_dfe", "year"]
    balance = rows.select(
        *keys,
        pl.lit(funding.BALANCE_PCT).alias("metric_id"),
        pl.col("dsg_balance_pct").alias("value"),
        pl.col("balance_release").alias("release"),
        pl.col("balance_file").alias("source_file"),
        pl.col("balance_sha256").alias("file_sha256"),
    )
    per_head = rows.select(
        *keys,
        pl.lit(funding.HNB_PER_HEAD).alias("metric_id"),
        pl.col("block_per_head_gbp").alias("value"),
        *PROVENANCE,
    )
    return pl.concat([balance, per_head], how="vertical").sort("area_name", "metric_id")


def _wide(data: pl.DataFrame) -> pl.DataFrame:
    """Return one row per LA: ``dsg_balance_pct`` and ``block_per_head_gbp``."""
    return data.pivot(
        on="metric_id", index=["area_name", "la_code_dfe", "year"], values="value"
    ).rename({funding.BALANCE_PCT: "dsg_balance_pct", funding.HNB_PER_HEAD: "block_per_head_gbp"})


def deficit_correlation(data: pl.DataFrame) -> funding.Correlation:
    """Return the correlation shown with the figure (the rows' one year)."""
    return funding.correlate(_wide(data), int(str(data["year"].max())))


def _deficit_alt(ctx: FigureContext, data: pl.DataFrame) -> str:
    year = int(str(data["year"].max()))
    wide = _wide(data)
    text = (
        f"Scatter plot of {wide.height} LAs: high-needs block per resident aged 2-18 against "
        f"DSG cumulative balance as % of DSG income, {period_label(year, 'financial_year')}. "
        + deficit_correlation(data).in_words(period_label(year, "financial_year"))
    )
    own = ctx.own_row(wide)
    if own is not None:
        text += (
            f" {ctx.la_name}: {format_value(own['block_per_head_gbp'], 'gbp')} per head, "
            f"balance {own['dsg_balance_pct']:.2f}%."
        )
    return text


def _deficit_chart(ctx: FigureContext, data: pl.DataFrame) -> Any:
    year = period_label(int(str(data["year"].max())), "financial_year")
    # The LA is marked only where it has a dot (both measures): an empty marker layer drew
    # nothing and made Vega warn of an infinite extent (City of London, Isles of Scilly).
    name = ctx.la.la_name if ctx.la else None
    pairs = zip(data["area_name"], data["value"], strict=True)
    held = sum(1 for area, value in pairs if area == name and value is not None)
    return charts.scatter_chart(
        data,
        x_key=funding.HNB_PER_HEAD,
        y_key=funding.BALANCE_PCT,
        highlight=name if held == 2 else None,
        title=f"Deficits against funding, {year}",
        subtitle="Each dot is one LA; below 0 = deficit",
        x_title="High-needs block per resident aged 2-18 (£, cash)",
        y_title="DSG balance, % of total DSG income",
        alt_text=_deficit_alt(ctx, data),
    )


register_figure(
    Figure(
        "deficit_against_funding",
        "DSG balance against high-needs funding per head, every LA",
        (funding.BALANCE_PCT, funding.HNB_PER_HEAD),
        deficit_rows,
        _deficit_chart,
        _deficit_alt,
        lambda ctx: (
            f"Metrics `{funding.BALANCE_PCT}` (DfE SEND and AP dashboard, derived, end of the "
            f"financial year) and `{funding.HNB_PER_HEAD}` (ESFA high-needs block before "
            "recoupment / ONS residents aged 2-18, mid-year of the year the FY starts), LA rows "
            "of the latest financial year with both. Pearson's r over those LAs, 95% interval "
            "by Fisher's z (tanh(atanh(r) +/- 1.96 / sqrt(n - 3)))."
        ),
        needs_la=False,
    )
)


# --- England overview ----------------------------------------------------------------------

national_figure(
    "england_placement_mix",
    "Where children and young people with EHC plans are taught, England",
    "% of plans with a setting",
    "Line chart of the % of EHC plans in mainstream schools, state special schools and "
    "independent or non-maintained special schools",
    {placements.share_id(g): GROUP_LABELS[g] for g in list(GROUP_LABELS)[:3]},
    "Metrics `plans_mainstream_pct`, `plans_state_special_pct` and "
    "`plans_independent_special_pct`, England rows (SEN2 2025 caseload.csv): each group's "
    "plans / plans with a setting in the file x 100 (January 2024 excludes Hackney and "
    "Peterborough, which returned totals only).",
)
national_figure(
    "england_sen_support",
    "Pupils on SEN support and with an EHC plan, England (all schools)",
    "% of pupils",
    "Line chart of the % of pupils on SEN support and with an EHC plan or statement",
    {
        "sen_support_pupils_pct": "SEN support (%)",
        "ehc_plan_pupils_pct": "EHC plan or statement (%)",
    },
    "Metrics `sen_support_pupils_pct` and `ehc_plan_pupils_pct`, England rows, January school "
    "census." + LAIT_NOTE,
)
variation_figure(
    "variation_independent_special",
    placements.share_id("independent_special"),
    "% of plans",
)
variation_figure("variation_sen_support", "sen_support_pupils_pct", "% of pupils")
