"""High needs and Dedicated Schools Grant (DSG) metrics: allocations, per head, balances, spend.

Input is the long tidy table ``dfe_high_needs__dsg`` (every release) and, for the per-head
allocation, the ONS 2-18 population
(:func:`sendstats.sources.ons_population.population_by_age_band`).
Everything is in cash terms: no deflator is declared, so no real-terms figure is offered.

- Allocations use ONE basis, **before academy recoupment and deductions** (the ESFA's columns
  [C] and [E]): the amount the formula allocates to the LA's area, whatever the share of its
  schools that are academies. For each financial year the ESFA per-year file wins; the DfE
  compilation is used only for FY 2019-20, which has no per-year file held, and those rows say
  so in their note. The two vintages are never mixed within a year.
- England and region rows are pooled over the LAs with the figures known
  (:func:`~sendstats.metrics.common.with_pooled_comparators`: sums, and ratios as sum of
  numerators / sum of denominators, never a mean of LA ratios), with ``n_las`` and the
  published England figure beside (``published_value``) where one is published. The
  dashboard's balance % has no numerator or denominator, so its England and regions are as
  the dashboard gives them. Every pooled row says so in its note.
- Per head aged 2-18 divides by the ONS estimate of the mid-year in which the FY starts, on
  the geography in force (:func:`~sendstats.metrics.per_head.per_head_rows`), citing the
  workbook's release, file and sha256.
- The DSG cumulative balance as % of total DSG income is the DfE SEND and AP dashboard's derived
  figure, re-read unchanged (``official=False``).
- **DSG balance as % of the high-needs block is not computed from held data.** It needs the
  balance in GBP, which only the s251 outturn file gives (line 1.9.3), and that file is not held.
  The dashboard's file holds only a percentage, rounded to 2 dp, whose denominator (per the
  dashboard's code) is the ESFA "Total DSG allocation" [E] of the latest *March* publication of
  each year; the held ESFA files are later publications (18 November 2021 for FY 2020-21, 18 July
  2022 for FY 2021-22), so multiplying back would mix vintages. The s251 metrics below are
  computed as soon as the tidy table holds ``dsg_carried_forward_gbp`` rows (when the s251 file is
  pinned), with the difference from the dashboard's figure: both are kept, neither is picked.
- High-needs spend per head aged 2-18 follows FBIT's definition (total high needs = s251 line
  1.0.2 place funding + top-ups 1.2.1/1.2.2/1.2.4/1.2.11 + 1.2.3 + SEN support 1.2.5/1.2.8/1.2.9
  + AP 1.2.7 + hospital 1.2.6 + therapies 1.2.13, divided by the 2-18 population), from the
  benchmarking tool's FY 2021-22 outturn sheet and its own population (ONS mid-2021 projection).
"""

from __future__ import annotations

import operator
from functools import reduce

import polars as pl

from sendstats.core import vocab
from sendstats.metrics import caveats as cv
from sendstats.metrics.common import AREA_ATTRS, AREA_KEYS, PROV, finish, make_rows
from sendstats.metrics.comparators import value_ratio, value_sum, with_pooled_comparators
from sendstats.metrics.per_head import CENSUS_BREAK, check_population, per_head_rows
from sendstats.metrics.registry import MetricDef, register

SOURCE = vocab.HIGH_NEEDS_SOURCE_ID
HNB_MEASURE = "high_needs_block_before_recoupment_gbp"
TOTAL_MEASURE = "total_dsg_before_recoupment_gbp"
BALANCE_MEASURE = "dsg_cumulative_balance_pct_of_total_income"

HNB = "high_needs_block_gbp"
TOTAL = "total_dsg_gbp"
HNB_PER_HEAD = "high_needs_block_per_head_2_18_gbp"
BALANCE_PCT = "dsg_balance_of_total_income_pct"
SPEND_PER_HEAD = "high_needs_spend_per_head_2_18_gbp"
# Computed only when the s251 outturn file is pinned (not held yet).
BALANCE_S251 = "dsg_balance_s251_gbp"
BALANCE_OF_HNB = "dsg_balance_of_high_needs_block_pct"
BALANCE_S251_PCT = "dsg_balance_of_total_dsg_s251_pct"
BALANCE_DIFFERENCE = "dsg_balance_of_total_dsg_s251_minus_dashboard_pct"

DASHBOARD = "DfE SEND and AP dashboard (dfe-analytical-services/SEND-AP-Inclusion-Dashboard)"
DASHBOARD_NOTE = "derived by the DfE SEND and AP dashboard, not an official statistic"
COMPILATION_NOTE = (
    "FY 2019-20 from the DfE compilation of the ESFA summary sheets (no per-year ESFA file "
    "held; published in GBP million, rounded to the pound)"
)
REGION_SUM_NOTE = "region: sum of its LAs (sendstats)"
POOLED_NOTE = "pooled by sendstats over the LAs with both figures (sum / sum)"
FBIT_NOTE = (
    "FBIT definition, computed by sendstats; denominator: the tool's 2-18 population "
    "(ONS mid-2021 projection)"
)
BASIS_TEXT = "before academy recoupment and deductions (ESFA columns [C] and [E])"
CASH = cv.every_la("Cash terms: no deflator is declared, so no real-terms figure is given.")
NOT_HELD = cv.method(
    "Computed only when the s251 outturn file (line 1.9.3) is pinned: it is not held, so no "
    "values yet."
)
BREAK_2021 = cv.series_break(
    2021,
    "FY 2021-22: the high-needs block adds 'Hospital education, AP teachers pay/pension and "
    "supplementary funding' (England GBP 117,942,599), absent from the FY 2020-21 layout.",
)
#: The LAs split in FY 2021-22 and FY 2023-24 (DfE codes): the old counties and their successors.
BREAK_LAS = (
    cv.for_las(
        ("928", "940", "941"),
        "LA split: Northamptonshire (928) is allocated to FY 2020-21, North and West "
        "Northamptonshire from FY 2021-22.",
        beside=False,
    ),
    cv.for_las(
        ("909", "942", "943"),
        "LA split: Cumbria (909) is allocated to FY 2022-23, Cumberland and Westmorland and "
        "Furness from FY 2023-24.",
        beside=False,
    ),
)
#: City of London and Isles of Scilly (DfE codes): not in the DSG allocation files.
EXCLUDED = cv.for_las(
    ("201", "420"),
    "No DSG allocation for {names}: not in the allocation files (funded differently), so not "
    "ranked.",
)

register(
    MetricDef(
        id=HNB,
        title="High-needs block allocation (GBP, before recoupment)",
        definition=(
            "Dedicated Schools Grant high-needs block allocated to the LA for the financial "
            f"year, {BASIS_TEXT}, in GBP, cash terms. The ESFA per-year allocation file wins; "
            "FY 2019-20 comes from the DfE compilation of the ESFA summary sheets."
        ),
        unit="gbp",
        polarity="neither",
        period_type="financial_year",
        sources=(SOURCE,),
        numerator="ESFA high-needs block [C]",
        method="ESFA published; regions summed by sendstats",
        series_breaks=(BREAK_2021, *BREAK_LAS),
        caveats=(CASH, EXCLUDED),
    ),
    MetricDef(
        id=TOTAL,
        title="Total DSG allocation (GBP, before recoupment)",
        definition=(
            "Total Dedicated Schools Grant allocated to the LA for the financial year (schools, "
            f"central school services, high needs and early years blocks), {BASIS_TEXT}, in GBP, "
            "cash terms. Per-year ESFA file wins; FY 2019-20 from the DfE compilation."
        ),
        unit="gbp",
        polarity="neither",
        period_type="financial_year",
        sources=(SOURCE,),
        numerator="ESFA total DSG allocation [E]",
        method="ESFA published; regions summed by sendstats",
        series_breaks=BREAK_LAS,
        caveats=(CASH, EXCLUDED),
    ),
    MetricDef(
        id=HNB_PER_HEAD,
        title="High-needs block per resident aged 2-18 (GBP)",
        definition=(
            f"High-needs block allocation ({BASIS_TEXT}) divided by the ONS mid-year "
            "population aged 2 to 18 at the mid-year in which the financial year starts (FY "
            "2020-21 uses mid-2020). Cash terms. Not published: derived by sendstats."
        ),
        unit="gbp",
        polarity="neither",
        period_type="financial_year",
        sources=(SOURCE, "ons_population"),
        numerator=HNB,
        denominator="ONS mid-year population estimate aged 2-18 (vintage named on every row)",
        official=False,
        method="sendstats: allocation / population; regions and England pooled over LAs",
        # FY 2021-22 is the first to divide by a Census-based estimate (mid-2021).
        series_breaks=(BREAK_2021, cv.series_break(2021, CENSUS_BREAK)),
        break_years=(2021,),
        caveats=(
            cv.method(
                "FY 2019-20 to 2023-24 (the DSG files held), each dividing by the mid-year in "
                "which it starts (mid-2019 to mid-2023, all held). A later FY whose mid-year is "
                "not held would use the latest estimate held, and say so."
            ),
            cv.every_la(
                "England is pooled over the LAs with an allocation, so its denominator leaves "
                "out City of London and Isles of Scilly (which have none)."
            ),
            CASH,
        ),
    ),
    MetricDef(
        id=BALANCE_PCT,
        title="DSG cumulative balance as % of total DSG income (DfE dashboard, derived)",
        definition=(
            "Cumulative DSG balance carried forward at the end of the financial year as a % of "
            "the LA's total DSG allocation; negative = cumulative deficit. Derived by the DfE "
            "SEND and AP dashboard, not an official statistic; re-read unchanged."
        ),
        unit="pct",
        polarity="high_is_good",
        period_type="financial_year",
        sources=(SOURCE,),
        numerator="s251 outturn line 1.9.3 'DSG carried forward to next year' (gross_expenditure)",
        denominator=(
            "ESFA total DSG allocation before recoupment [E], latest March publication of the "
            "year (FY 2019-20: the DfE compilation), per the dashboard's code"
        ),
        official=False,
        derived_by="the DfE SEND and AP dashboard",
        method=(
            f"derived by the {DASHBOARD}, prep/data_preparation.R: -100 x line 1.9.3 / total DSG "
            "allocation, rounded to 2 dp; England and regions as the dashboard gives them "
            "(Inner and Outer London combined)"
        ),
        caveats=(
            cv.every_la(
                "Higher = larger surplus or smaller deficit; rank 1 = the highest balance."
            ),
            cv.every_la("Rounded to 2 dp by the dashboard; FY 2019-20 to 2021-22 only."),
            cv.method(
                "Not reproducible here: the s251 outturn file is not held, and the dashboard's "
                "denominator is an earlier (March) ESFA publication than the held files."
            ),
        ),
    ),
    MetricDef(
        id=SPEND_PER_HEAD,
        title="High-needs spend per resident aged 2-18 (GBP, FBIT definition)",
        definition=(
            "Net s251 high-needs outturn per resident aged 2 to 18, as FBIT defines its total: "
            "place funding (line 1.0.2, all phases) + top-ups for maintained schools, academies "
            "and colleges (1.2.1, 1.2.2, 1.2.4, 1.2.11) + top-ups for non-maintained and "
            "independent providers (1.2.3) + SEN support and inclusion (1.2.5, 1.2.8, 1.2.9) + "
            "AP services (1.2.7) + hospital education (1.2.6) + therapies (1.2.13). Cash terms."
        ),
        unit="gbp",
        polarity="neither",
        period_type="financial_year",
        sources=(SOURCE,),
        numerator="s251 high-needs outturn, FBIT total (GBP)",
        denominator="population aged 2-18, ONS mid-2021 projection as given in the tool's sheet",
        official=False,
        method=(
            "sendstats, following FBIT's TotalHighNeeds (DFE-Digital/education-benchmarking-and-"
            "insights); regions and England pooled over LAs (sum / sum)"
        ),
        caveats=(
            cv.every_la(
                "FY 2021-22 only, from a secondary extract of the DfE high needs benchmarking "
                "tool (period settled from the LAs it lists; see the dfe_high_needs declaration)."
            ),
            cv.method(
                "Line 1.0.2 is taken as the sum of the tool's place-funding phase columns (the "
                "sheet has no place-funding income column)."
            ),
            CASH,
        ),
    ),
    MetricDef(
        id=BALANCE_S251,
        title="DSG cumulative balance carried forward (GBP, s251 outturn)",
        definition=(
            "s251 outturn line 1.9.3 'Dedicated Schools Grant carried forward to next year' at "
            "the end of the financial year, GBP; negative = cumulative deficit. Cash terms."
        ),
        unit="gbp",
        polarity="high_is_good",
        period_type="financial_year",
        sources=(SOURCE,),
        numerator="s251 line 1.9.3 (gross_expenditure)",
        method="DfE published (LA and school expenditure)",
        caveats=(NOT_HELD,),
    ),
    MetricDef(
        id=BALANCE_OF_HNB,
        title="DSG cumulative balance as % of the high-needs block (sendstats, derived)",
        definition=(
            "s251 DSG balance carried forward (line 1.9.3) as a % of the high-needs block "
            f"allocation of the same financial year, {BASIS_TEXT}. Not published anywhere: "
            "derived by sendstats. Negative = cumulative deficit."
        ),
        unit="pct",
        polarity="high_is_good",
        period_type="financial_year",
        sources=(SOURCE,),
        numerator=BALANCE_S251,
        denominator=f"{HNB} (before recoupment)",
        official=False,
        method="sendstats: balance / high-needs block x 100; regions and England pooled over LAs",
        caveats=(
            NOT_HELD,
            cv.method(
                "Not derived from the dashboard's percentage: that file holds no GBP balance, "
                "only a % rounded to 2 dp over an ESFA publication (March) that is not held."
            ),
        ),
    ),
    MetricDef(
        id=BALANCE_S251_PCT,
        title="DSG cumulative balance as % of total DSG (sendstats, from s251)",
        definition=(
            "The dashboard's measure recomputed by sendstats from the s251 balance (line 1.9.3) "
            f"and the held ESFA total DSG allocation {BASIS_TEXT}. Negative = deficit."
        ),
        unit="pct",
        polarity="high_is_good",
        period_type="financial_year",
        sources=(SOURCE,),
        numerator=BALANCE_S251,
        denominator=f"{TOTAL} (held ESFA vintage)",
        official=False,
        method="sendstats: balance / total DSG x 100; regions and England pooled over LAs",
        caveats=(NOT_HELD,),
    ),
    MetricDef(
        id=BALANCE_DIFFERENCE,
        title="DSG balance % of total DSG: sendstats (s251) minus DfE dashboard (points)",
        definition=(
            f"{BALANCE_S251_PCT} minus {BALANCE_PCT}, in percentage points, where both exist for "
            "the same area and year: the two figures are kept side by side, neither is picked."
        ),
        unit="pct",
        polarity="neither",
        period_type="financial_year",
        sources=(SOURCE,),
        official=False,
        method="sendstats: difference of the two percentages",
        caveats=(
            NOT_HELD,
            cv.method(
                "Differences come from the ESFA vintage of the denominator and the dashboard's "
                "rounding to 2 dp."
            ),
        ),
    ),
)

_KEEP = [*AREA_KEYS, *AREA_ATTRS, "year", "period_type", *PROV]


def _allocations(tidy: pl.DataFrame, measure: str) -> pl.DataFrame:
    """Return one row per area and year: the per-year ESFA file, else the compilation."""
    rows = tidy.filter((pl.col("measure") == measure) & pl.col("value").is_not_null())
    per_year = rows.filter(
        pl.col("release").is_in(list(vocab.FINAL_RELEASES))
        & (pl.col("release") == pl.col("time_period"))
    )
    compiled = rows.filter(
        (pl.col("release") == vocab.COMPILATION_RELEASE)
        & ~pl.col("time_period").is_in(per_year["time_period"].unique().to_list())
    )
    out = pl.concat([per_year, compiled], how="vertical").with_columns(
        pl.when(pl.col("release") == vocab.COMPILATION_RELEASE)
        .then(pl.lit(COMPILATION_NOTE))
        .otherwise(pl.lit(None, pl.Utf8))
        .alias("note")
    )
    dupes = out.filter(pl.struct("area_code", "year").is_duplicated())
    if dupes.height:  # an internal rule broke: two vintages for one area and year
        raise ValueError(f"{measure}: two vintages for one area and year: {dupes.head(3)}")
    return out


def _amount_rows(alloc: pl.DataFrame, metric_id: str) -> pl.DataFrame:
    """LA allocations, with England and regions summed over the LAs (published England beside)."""
    rows = alloc.filter(pl.col("geographic_level").is_in(["Local authority", "National"]))
    made = make_rows(
        rows, metric_id, pl.col("value"), numerator=pl.col("value"), note=pl.col("note")
    )
    # Published in GBP; FY 2019-20 in GBP million to 6 dp, each LA within 50p of its pounds,
    # so its England total may differ from the LA sum by up to 0.5 x 149: not a difference.
    return with_pooled_comparators(made, value_sum, needs_denominator=False, tolerance=100.0)


def _pooled_ratio(la: pl.DataFrame, metric_id: str, scale: float, la_note: pl.Expr) -> pl.DataFrame:
    """LA ratios num / den x scale, with regions and England pooled (sum / sum) over the LAs.

    ``la`` holds the LA rows with ``num`` and ``den``.
    """
    rows = make_rows(
        la.filter(pl.col("den").is_null() | (pl.col("den") > 0)),
        metric_id,
        pl.col("num") / pl.col("den") * scale,
        numerator=pl.col("num"),
        denominator=pl.col("den"),
        note=la_note,
    )
    return with_pooled_comparators(rows, value_ratio(scale))


def _per_head_block(hnb: pl.DataFrame, population: pl.DataFrame) -> pl.DataFrame:
    """High-needs block per resident aged 2-18: FY starting in year Y uses mid-Y."""
    return per_head_rows(hnb, population, HNB_PER_HEAD, lag=0, scale=1.0, label="aged 2-18")


def _balance_pct(tidy: pl.DataFrame) -> pl.DataFrame:
    rows = tidy.filter(
        (pl.col("measure") == BALANCE_MEASURE)
        & (pl.col("release") == vocab.DERIVED_RELEASE)
        & pl.col("value").is_not_null()
    )
    return make_rows(rows, BALANCE_PCT, pl.col("value"), note=pl.lit(DASHBOARD_NOTE))


def _spend_per_head(tidy: pl.DataFrame) -> pl.DataFrame:
    rows = tidy.filter(pl.col("basis") == vocab.HNBT_BASIS)
    if rows.height == 0:
        return pl.DataFrame()
    wide = rows.pivot(on="measure", index=_KEEP, values="value")
    la = wide.filter(pl.col("geographic_level") == "Local authority").with_columns(
        # A left fold, not pl.sum_horizontal: that adds in an order that depends on the number
        # of threads, so two builds could differ in the last bits (issue 18 item 13).
        reduce(operator.add, (pl.col(c).fill_null(0.0) for c in vocab.FBIT_TOTAL_MEASURES)).alias(
            "num"
        ),
        pl.col("hnbt_population_2_18_count").alias("den"),
    )
    return _pooled_ratio(la, SPEND_PER_HEAD, 1.0, pl.lit(FBIT_NOTE))


def _s251_rows(tidy: pl.DataFrame, hnb: pl.DataFrame, total: pl.DataFrame) -> list[pl.DataFrame]:
    """s251 balance metrics, when the s251 file is pinned: GBP, % of HNB, % of total, difference."""
    bal = (
        tidy.filter((pl.col("measure") == vocab.DSG_MEASURE) & pl.col("value").is_not_null())
        .sort("release", descending=True)
        .unique(subset=["area_code", "year"], keep="first", maintain_order=True)
    )
    if bal.height == 0:
        return []
    frames = [make_rows(bal, BALANCE_S251, pl.col("value"), numerator=pl.col("value"))]
    la_bal = bal.filter(pl.col("geographic_level") == "Local authority")
    ratios = {}
    for metric_id, denominators, label in (
        (BALANCE_OF_HNB, hnb, "high-needs block"),
        (BALANCE_S251_PCT, total, "total DSG"),
    ):
        den = denominators.filter(pl.col("geographic_level") == "Local authority").select(
            "area_code", "year", pl.col("value").alias("den"), pl.col("release").alias("vintage")
        )
        la = la_bal.with_columns(pl.col("value").alias("num")).join(
            den, on=["area_code", "year"], how="left"
        )
        note = pl.concat_str(pl.lit(f"{label}: ESFA release "), pl.col("vintage"))
        ratios[metric_id] = _pooled_ratio(la, metric_id, 100.0, note)
        frames.append(ratios[metric_id])
    dash = _balance_pct(tidy).select("area_code", "year", pl.col("value").alias("dashboard"))
    both = ratios[BALANCE_S251_PCT].join(dash, on=["area_code", "year"], how="inner")
    frames.append(
        make_rows(
            both,
            BALANCE_DIFFERENCE,
            pl.col("value") - pl.col("dashboard"),
            note=pl.lit("sendstats (s251, held ESFA vintage) minus the DfE dashboard's figure"),
        )
    )
    return frames


def compute(tidy: pl.DataFrame, population: pl.DataFrame) -> pl.DataFrame:
    """Compute the high-needs metrics for England, regions and LAs.

    Args:
        tidy: the ``dfe_high_needs__dsg`` table.
        population: the 2-18 age band with
            :data:`~sendstats.metrics.per_head.POPULATION_COLUMNS`
            (``population_by_age_band("2_18", include_predecessors=True)``).

    """
    check_population(population)
    hnb = _allocations(tidy, HNB_MEASURE)
    total = _allocations(tidy, TOTAL_MEASURE)
    frames = [
        _amount_rows(hnb, HNB),
        _amount_rows(total, TOTAL),
        *([_per_head_block(hnb, population)] if population.height else []),
        _balance_pct(tidy),
    ]
    spend = _spend_per_head(tidy)
    if spend.height:
        frames.append(spend)
    frames += _s251_rows(tidy, hnb, total)
    return finish(frames)
