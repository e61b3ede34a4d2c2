"""Section "Where children with plans are taught, and support without a plan" (profile, overview).

The LA profile's paragraph states the LA's placement mix against its region, statistical
neighbours and England; growth in independent or non-maintained special school places since
2019; pupils on SEN support against pupils with a plan; the Attainment 8 gap; annual reviews
and personal budgets; and where the LA sits among all LAs on deficits against funding, with the
correlation and its interval in words. The overview gives the same nationally. Every number
comes from the metric and benchmark tables (``placements``, ``reviews``, ``sen_support``,
``high_needs``); LAIT-based numbers are called a compilation wherever they are stated.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from sendstats.core.numbers import format_value, period_label
from sendstats.metrics import funding, placements, sen_support
from sendstats.metrics.registry import get_metric
from sendstats.report import profile as report
from sendstats.report.figures.base import FigureContext, figure_dir, write_csv
from sendstats.report.figures.inclusion import GROUP_LABELS
from sendstats.report.profile import LaContext
from sendstats.report.provenance import source_note
from sendstats.report.rules import and_words

LAIT = "DfE's LAIT (a compilation of DfE statistics)"
SHARES = ("mainstream", "state_special", "independent_special")
#: ASCL's response quotes 11.5% of pupils on SEN support; checked against every England row.
ASCL_SEN_SUPPORT_PCT = 11.5
_PHASES = {
    "sen_support_pupils_pct": "all schools",
    "sen_support_primary_pct": "primary schools",
    "sen_support_secondary_pct": "secondary schools",
}


def _pct(value: object) -> str:
    return format_value(float(str(value)), "pct")


def _latest(rows: pl.DataFrame, metric_id: str) -> dict[str, Any] | None:
    return report.latest(rows, metric_id)


def _compare(ctx: LaContext, metric_id: str, row: dict[str, Any]) -> str:
    """Return '(region x; neighbours y; England z)' for the LA's row of a metric."""
    bench = ctx.bench_row(metric_id, row["year"])
    unit = get_metric(metric_id).unit
    parts = []
    if bench is not None:
        for key, label in (
            ("region_value", ctx.la.region_name),
            ("sn2025_value", "neighbours"),
            ("england_value", "England"),
        ):
            if bench[key] is not None:
                parts.append(f"{label} {format_value(float(bench[key]), unit)}")
    return f" ({'; '.join(parts)})" if parts else ""


def _small(row: dict[str, Any], what: str) -> str:
    """Return a caution when a % rests on fewer cases than the profile's small-numbers rule."""
    den = row.get("denominator")
    if den is None or float(den) >= report.SMALL_DENOMINATOR:
        return ""
    return f" These rest on {float(den):,.0f} {what}: too few for a stable percentage."


def _abolished(ctx: LaContext) -> str:
    """Return 'X was replaced in <month year> by A and B.' for an abolished LA, else ''."""
    la = ctx.la
    if la.valid_to is None:
        return ""
    from sendstats import geography

    after = [geography.get_la(code).la_name for code in la.successors]
    by = f" by {and_words(after)}" if after else ""
    when = la.valid_to + dt.timedelta(days=1)
    return f"{la.la_name} was replaced in {when:%B %Y}{by}."


def _placement_sentences(ctx: LaContext) -> list[str]:
    la = ctx.la
    main = _latest(ctx.la_rows, placements.share_id("mainstream"))
    if main is None:
        return [f"The SEN2 files publish no placements for {la.la_name}."]
    year = main["year"]
    text: list[str] = []
    latest_all = _latest(ctx.england_rows, placements.share_id("mainstream"))
    if latest_all is not None and latest_all["year"] > year and _abolished(ctx):
        text.append(f"{_abolished(ctx)} Its last published placements are for January {year}.")
    elif latest_all is not None and latest_all["year"] > year:
        text.append(
            f"{la.la_name}'s placements are suppressed for January {latest_all['year']} (the "
            "data guidance says it could not return them); the latest published are for "
            f"January {year}."
        )
    parts: list[str] = []
    for group in SHARES:
        mid = placements.share_id(group)
        row = report.row_for(ctx.la_rows, mid, year)
        if row is not None:
            where = GROUP_LABELS[group].lower()
            verb = "were in" if not parts else "in"
            parts.append(f"**{_pct(row['value'])}** {verb} {where}{_compare(ctx, mid, row)}")
    text.append(
        f"In January {year}, of {la.la_name}'s EHC plans with a setting recorded, "
        + and_words(parts)
        + "."
        + _small(main, "plans")
    )
    index = _latest(ctx.la_rows, placements.index_id("independent_special"))
    if index is not None and index["year"] > placements.BASE_YEAR:
        eng = report.row_for(
            ctx.england_rows, placements.index_id("independent_special"), index["year"]
        )
        text.append(
            f"Plans in independent or non-maintained special schools went from "
            f"{format_value(float(index['denominator']), 'count')} in January "
            f"{placements.BASE_YEAR} to {format_value(float(index['numerator']), 'count')} in "
            f"January {index['year']} (index {float(index['value']):.0f}; England "
            f"{float(eng['value']):.0f})."
            if eng
            else ""
        )
    text.append(
        "Placement shares are not ranked as better or worse: the right mix is the policy "
        "question itself."
    )
    return [t for t in text if t]


def _support_sentences(ctx: LaContext) -> list[str]:
    la = ctx.la
    sup = _latest(ctx.la_rows, "sen_support_pupils_pct")
    plan = _latest(ctx.la_rows, "ehc_plan_pupils_pct")
    text = []
    if sup is not None and plan is not None and sup["year"] == plan["year"]:
        text.append(
            f"In January {sup['year']}, **{_pct(sup['value'])}** of pupils in {la.la_name}'s "
            f"schools were on SEN support without a plan"
            f"{_compare(ctx, 'sen_support_pupils_pct', sup)}, and {_pct(plan['value'])} had an "
            f"EHC plan or statement{_compare(ctx, 'ehc_plan_pupils_pct', plan)}: "
            f"{float(sup['value']) / float(plan['value']):.1f} pupils on SEN support for every "
            f"pupil with a plan (values from {LAIT}, Special educational needs in England)."
        )
    gap_id = sen_support.gap_id("attainment8", "ehc_plan")
    gap = _latest(ctx.la_rows, gap_id)
    if gap is not None:
        year = int(gap["year"])
        period = f"{year - 1}/{year % 100:02d}"  # KS4 results of the academic year ending then
        text.append(
            f"At key stage 4 in {period}, pupils with an EHC plan scored "
            f"{float(gap['value']):.1f} Attainment 8 points below pupils with no identified SEN"
            f"{_compare(ctx, gap_id, gap)} ({gap['note']}; {LAIT}, Key stage 4 performance)."
        )
    return text


def _review_sentences(ctx: LaContext) -> list[str]:
    text = []
    held = _latest(ctx.la_rows, "review_meetings_held_pct")
    weeks = _latest(ctx.la_rows, "review_outcome_within_4_weeks_pct")
    amend = _latest(ctx.la_rows, "review_outcome_amend_pct")
    if held is None and _abolished(ctx):
        return [f"The SEN2 annual reviews figures (2024) postdate {ctx.la.la_name}."]
    if held is None:
        return [
            f"No annual reviews figures are published for {ctx.la.la_name} in 2024 (returned "
            "no data or suppressed pending checks, data guidance footnote 1)."
        ]
    sentence = (
        f"In 2024, a review meeting was recorded for {_pct(held['value'])} of the "
        f"{format_value(float(held['denominator']), 'count')} annual reviews due"
        f"{_compare(ctx, 'review_meetings_held_pct', held)}"
    )
    if weeks is not None:
        sentence += (
            f"; {_pct(weeks['value'])} of review outcomes were sent within the 4-week time limit"
        )
    if amend is not None:
        sentence += f"; {_pct(amend['value'])} of reviews decided to amend the plan"
    text.append(sentence + "." + _small(held, "reviews due"))
    pb = _latest(ctx.la_rows, "plans_with_personal_budget_pct")
    if pb is not None:
        text.append(
            f"In January {pb['year']}, {_pct(pb['value'])} of plans had a personal budget"
            f"{_compare(ctx, 'plans_with_personal_budget_pct', pb)}."
        )
    return text


def funding_sentences(ctx: FigureContext) -> list[str]:
    """Return the deficits-against-funding sentences: correlation in words, the LA's place."""
    paired = ctx.index.derived("funding_pairs", funding.pairs)
    year = funding.latest_year(paired)
    if year is None:
        return []
    fy = period_label(year, "financial_year")
    corr = funding.correlate(paired, year)
    text = [corr.in_words(fy)]
    if ctx.la is not None:
        own = paired.filter(
            (pl.col("la_code_dfe") == ctx.la.la_code_dfe) & (pl.col("year") == year)
        )
        if own.height:
            r = own.row(0, named=True)
            text.append(
                f"{ctx.la.la_name}: {format_value(r['block_per_head_gbp'], 'gbp')} per resident "
                f"aged 2-18 and a DSG balance of {r['dsg_balance_pct']:.2f}% of DSG income."
            )
    return text


def inclusion_narrative(ctx: LaContext) -> str:
    """Return the profile's paragraph (markdown) for the section."""
    parts = [
        *_placement_sentences(ctx),
        *_support_sentences(ctx),
        *_review_sentences(ctx),
        *funding_sentences(ctx.figure_context()),
    ]
    return " ".join(parts)


def deficit_table(ctx: FigureContext) -> pl.DataFrame:
    """Return one row per financial year with both values: LAs, r, its interval, in words."""
    paired = ctx.index.derived("funding_pairs", funding.pairs)
    rows = []
    for year in sorted(paired["year"].unique().to_list()):
        c = funding.correlate(paired, int(year))
        fy = period_label(int(year), "financial_year")
        row: dict[str, Any] = {
            "period": fy,
            "las": c.n,
            "r": round(c.r, 3),
            "ci95_low": round(c.low, 3),
            "ci95_high": round(c.high, 3),
            "in_words": c.in_words(fy),
        }
        if ctx.la is not None:
            own = paired.filter(
                (pl.col("la_code_dfe") == ctx.la.la_code_dfe) & (pl.col("year") == year)
            )
            row["la_block_per_head_gbp"] = own["block_per_head_gbp"][0] if own.height else None
            row["la_dsg_balance_pct"] = own["dsg_balance_pct"][0] if own.height else None
        rows.append(row)
    return pl.DataFrame(rows)


def show_deficit_table(ctx: LaContext | FigureContext) -> None:
    """Display the deficits-against-funding table (great-tables) with its source note; CSV."""
    from great_tables import GT

    fctx = ctx.figure_context() if isinstance(ctx, LaContext) else ctx
    data = deficit_table(fctx)
    if data.height == 0:
        return
    who = fctx.la.la_code_dfe if fctx.la else "england"
    folder = figure_dir()
    if folder:
        write_csv(data, folder / f"{who}__deficit_against_funding_table.csv")
    used = fctx.metrics.filter(
        pl.col("metric_id").is_in([funding.BALANCE_PCT, funding.HNB_PER_HEAD])
        & (pl.col("geographic_level") == "Local authority")
    )
    own: list[pl.Expr] = []
    if fctx.la is not None:
        own = [
            pl.col("la_block_per_head_gbp")
            .map_elements(lambda v: format_value(v, "gbp"), return_dtype=pl.Utf8)
            .alias(f"{fctx.la.la_name}: block per head"),
            pl.col("la_dsg_balance_pct")
            .map_elements(lambda v: f"{v:.2f}%", return_dtype=pl.Utf8)
            .alias(f"{fctx.la.la_name}: DSG balance"),
        ]
    shown = data.select(
        pl.col("period").alias("Financial year"),
        pl.col("las").alias("LAs"),
        pl.format("{} ({} to {})", "r", "ci95_low", "ci95_high").alias("Pearson r (95% interval)"),
        *own,
        pl.col("in_words").alias("In words"),
    )
    table = (
        GT(shown)
        .tab_header(title="Deficits against funding: DSG balance % against block per head")
        .tab_source_note(source_note(used))
    )
    report._show(table)


def show_inclusion(ctx: LaContext) -> None:
    """Display the section's figures and table in the LA profile."""
    for figure_id in (
        "placement_mix",
        "placements_independent_special_growth",
        "sen_support_trend",
        "attainment8_gap_trend",
        "deficit_against_funding",
    ):
        report.show_figure(ctx, figure_id)
    show_deficit_table(ctx)


def overview_narrative(ctx: FigureContext) -> str:
    """Return the overview's paragraph (markdown): England's placement mix, support, outcomes."""
    eng = ctx.metrics.filter(pl.col("geographic_level") == "National")
    text = []
    main = report.latest(eng, placements.share_id("mainstream"))
    if main is not None:
        year = main["year"]
        parts = []
        for group in SHARES:
            now = report.row_for(eng, placements.share_id(group), year)
            then = report.row_for(eng, placements.share_id(group), placements.BASE_YEAR)
            if now and then:
                parts.append(
                    f"{GROUP_LABELS[group].lower()} {_pct(now['value'])} (January "
                    f"{placements.BASE_YEAR}: {_pct(then['value'])})"
                )
        text.append(
            f"In January {year}, of England's EHC plans with a setting: {'; '.join(parts)}."
        )
        published = main["published_value"]
        if published is not None and abs(float(published) - float(main["value"])) >= 0.05:
            text.append(
                f"These are summed over the {main['n_las']} LAs whose settings are published; "
                f"DfE's own England figure also counts plans whose LA rows are suppressed "
                f"(mainstream {_pct(published)})."
            )
    sup = report.latest(eng, "sen_support_pupils_pct")
    plan = report.latest(eng, "ehc_plan_pupils_pct")
    if sup and plan:
        text.append(
            f"{_pct(sup['value'])} of pupils were on SEN support and {_pct(plan['value'])} had "
            f"an EHC plan in January {sup['year']} (from {LAIT})."
        )
    text.extend(funding_sentences(ctx))
    return " ".join(text)


def show_overview(ctx: FigureContext) -> None:
    """Display the section's England figures and the deficits table in the overview."""
    for figure_id in (
        "england_placement_mix",
        "variation_independent_special",
        "england_sen_support",
        "variation_sen_support",
        "deficit_against_funding",
    ):
        report.show_figure(ctx, figure_id)
    show_deficit_table(ctx)


def ascl_check(ctx: FigureContext) -> dict[str, Any] | None:
    """Return the quoted-figures row checking ASCL's 11.5% of pupils on SEN support.

    The claim is compared with every England row of SEN support (all schools, primary,
    secondary): the row states which, if any, equal 11.5%, and the all-schools figure of the
    year where one does (or of the latest year).
    """
    eng = ctx.metrics.filter(
        (pl.col("geographic_level") == "National") & pl.col("metric_id").is_in(list(_PHASES))
    )
    if eng.height == 0:
        return None
    hits = eng.filter((pl.col("value") - ASCL_SEN_SUPPORT_PCT).abs() < 0.05).sort("year")
    all_schools = eng.filter(pl.col("metric_id") == "sen_support_pupils_pct").sort("year")
    year = int(hits["year"][0]) if hits.height else int(all_schools["year"].max())  # type: ignore[arg-type]
    row = all_schools.filter(pl.col("year") == year).row(0, named=True)
    low, high = all_schools["value"].min(), all_schools["value"].max()
    first, last = int(str(all_schools["year"].min())), int(str(all_schools["year"].max()))
    matches = "; ".join(
        f"{_PHASES[str(h['metric_id'])]}, January {h['year']}" for h in hits.iter_rows(named=True)
    )
    how = (
        f"sen_support_pupils_pct, England row, January {year} ({LAIT}). ASCL's "
        f"{ASCL_SEN_SUPPORT_PCT}% is "
        + (f"the figure for {matches}" if matches else "no England figure held")
        + f"; the all-schools figure ranged from {_pct(low)} to {_pct(high)} in "
        f"{first}-{last}."
    )
    return {
        "claim": f"Pupils on SEN support, all schools (ASCL's response: {ASCL_SEN_SUPPORT_PCT}%)",
        "period": f"January {year}",
        "figure": _pct(row["value"]),
        "value": float(row["value"]),
        "how": how,
        "official": "official (secondary source)",
        "release": row["release"],
        "source_file": row["source_file"],
        "file_sha256": row["file_sha256"],
    }
