"""EHC plan metrics: caseload, growth, new plans, requests refused and 20-week timeliness.

Input is the long tidy table ``dfe_sen2__ehcp`` (every release). For each measure, year and
area the newest release held wins (or the newest published by ``as_of``), and the release used
is kept on every metric row. Ratios carry their numerator and denominator; growth across a
series break carries a flag and a note.

England and region rows are pooled over the LA values actually used
(:func:`sendstats.metrics.common.with_pooled_comparators`), with DfE's published England and
region figures kept beside them. This is how mixed releases are handled (issue 17, option 1):
new EHC plans in 2022 take the Yorkshire and The Humber LAs from the 2023 release (the 2025
release carries the regional total on each of their rows) and every other LA from the 2025
release, so England and the region are the sums of those values (66,737), with DfE's 66,706
beside; an LA's change between two values of different releases says so in its note.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from sendstats.core.vocab import PRIMARY_NEEDS
from sendstats.metrics import caveats as cv
from sendstats.metrics.common import AREA_ATTRS, AREA_KEYS, PROV, finish
from sendstats.metrics.common import make_rows as _rows
from sendstats.metrics.comparators import ValueOf, value_ratio, value_sum, with_pooled_comparators
from sendstats.metrics.needs import NEED_METRICS, TOTAL_MEASURE, need_metric_id
from sendstats.metrics.registry import MetricDef, register

SOURCE = "dfe_sen2"
STATEMENTS_END_YEAR = 2019  # January 2019 is the first census with no statements of SEN left
PERSON_LEVEL_FROM = 2023  # SEN2 moved to person-level returns in 2023 (flows not comparable)
STATEMENTS_NOTE = "count includes statements of SEN (phased out 2014 to 2018)"
FLOW_BREAK_NOTE = "spans the 2023 change from aggregate to person-level SEN2 returns"
FLOW_BREAK = cv.series_break(PERSON_LEVEL_FROM, cv.SEN2_PERSON_LEVEL)

YORKSHIRE = "E12000003"  # Yorkshire and The Humber (ONS region code)
DORSET, CITY_OF_LONDON = "838", "201"

_CASELOAD = "Education, health and care plans maintained at the January census"
register(
    MetricDef(
        id="ehc_plans_count",
        title="EHC plans (January)",
        definition=(
            f"{_CASELOAD}, all ages 0 to 25. Before January 2019 the series counts statements "
            "of SEN plus EHC plans (2022 release, Total_all); from 2019 EHC plans only (2025 "
            "release caseload.csv)."
        ),
        unit="count",
        polarity="neither",
        period_type="academic_year",
        sources=(SOURCE,),
        series_breaks=(
            cv.series_break(
                STATEMENTS_END_YEAR,
                "January 2010 to 2018 count statements of SEN as well as EHC plans.",
            ),
        ),
        statistic="count",
    ),
    MetricDef(
        id="ehc_plans_change_count",
        title="Change in EHC plans on the previous January",
        definition="EHC plans at January minus EHC plans a year earlier.",
        unit="count",
        polarity="neither",
        period_type="academic_year",
        sources=(SOURCE,),
        numerator="ehc_plans_count (year) - ehc_plans_count (year - 1)",
        official=False,
        method="difference of published counts",
    ),
    MetricDef(
        id="ehc_plans_change_pct",
        title="Change in EHC plans on the previous January (%)",
        definition="(EHC plans at January / EHC plans a year earlier - 1) x 100.",
        unit="pct",
        polarity="neither",
        period_type="academic_year",
        sources=(SOURCE,),
        numerator="ehc_plans_count (year) - ehc_plans_count (year - 1)",
        denominator="ehc_plans_count (year - 1)",
        official=False,
        method="ratio of published counts",
    ),
    *(
        MetricDef(
            id=f"ehc_plans_index_{base}",
            title=f"EHC plans, index (January {base} = 100)",
            definition=f"EHC plans at January divided by EHC plans in January {base}, x 100.",
            unit="index",
            polarity="neither",
            period_type="academic_year",
            sources=(SOURCE,),
            numerator="ehc_plans_count (year)",
            denominator=f"ehc_plans_count ({base})",
            official=False,
            method="ratio of published counts",
            caveats=(cv.every_la("LAs created after the base year have no index."),),
        )
        for base in (2015, 2019)
    ),
    *(
        MetricDef(
            id=f"ehc_plans_cagr_{n}y_pct",
            title=f"EHC plans, compound annual growth over {n} years (%)",
            definition=(
                f"((EHC plans at January / EHC plans {n} years earlier)^(1/{n}) - 1) x 100."
            ),
            unit="pct",
            polarity="neither",
            period_type="academic_year",
            sources=(SOURCE,),
            numerator="ehc_plans_count (year)",
            denominator=f"ehc_plans_count (year - {n})",
            official=False,
            method="compound annual growth rate of published counts",
            # The n-year growth to January Y starts in Y - n: before 2019 for Y up to 2018 + n.
            caveats=(
                cv.period(
                    2010,
                    STATEMENTS_END_YEAR - 1 + n,
                    "A start year before 2019 counts statements as well as EHC plans.",
                ),
            ),
        )
        for n in (5, 10)
    ),
    MetricDef(
        id="new_ehc_plans_count",
        title="New EHC plans issued in the calendar year",
        definition="EHC plans made for the first time during the calendar year.",
        unit="count",
        polarity="neither",
        period_type="calendar_year",
        sources=(SOURCE,),
        series_breaks=(FLOW_BREAK,),
        statistic="count",
        break_years=(2023,),
        caveats=(
            cv.for_regions(
                (YORKSHIRE,),
                "2022, Yorkshire and The Humber LAs: the 2025 release's rows carry the regional "
                "total, so the 2023 release's figures are used for them.",
                years=(2022, 2022),
            ),
            cv.every_la(
                "Mixed releases (2022): England and the region are pooled over the LA values "
                "actually used (66,737), with DfE's published England figure (66,706, 2025 "
                "release) beside it; an LA's change between values of two releases says so in "
                "its note."
            ),
        ),
    ),
    *(
        MetricDef(
            id=f"{stem}_change_pct",
            title=f"Change in {what} on the previous year (%)",
            definition=f"({what} in the calendar year / {what} a year earlier - 1) x 100.",
            unit="pct",
            polarity="neither",
            period_type="calendar_year",
            sources=(SOURCE,),
            numerator=f"{stem}_count (year) - {stem}_count (year - 1)",
            denominator=f"{stem}_count (year - 1)",
            official=False,
            method="ratio of published counts",
            series_breaks=(FLOW_BREAK,),
            break_years=(2023,),
            caveats=(
                cv.method("The change into 2023 spans the SEN2 series break and is flagged."),
            ),
        )
        for stem, what in (("new_ehc_plans", "new EHC plans"), ("requests", "initial requests"))
    ),
    MetricDef(
        id="requests_count",
        title="Initial requests for an EHC needs assessment",
        definition="Initial requests for an EHC needs assessment received in the calendar year.",
        unit="count",
        polarity="neither",
        period_type="calendar_year",
        sources=(SOURCE,),
        series_breaks=(FLOW_BREAK,),
        statistic="count",
        break_years=(2023,),
    ),
    MetricDef(
        id="requests_refused_pct",
        title="Initial requests refused (%)",
        definition=(
            "Initial requests for an EHC needs assessment where the LA decided not to assess, "
            "as a % of initial requests received in the calendar year."
        ),
        unit="pct",
        polarity="neither",
        period_type="calendar_year",
        sources=(SOURCE,),
        numerator="requests_refused_count",
        denominator="requests_count",
        official=False,
        method="ratio of published counts",
        series_breaks=(FLOW_BREAK,),
        statistic="proportion",
        break_years=(2023,),
        caveats=(
            cv.every_la(
                "From 2023 some requests are still awaiting a decision at the year end, so the "
                "published % of requests refused (decisions basis) can differ."
            ),
        ),
    ),
    *(
        MetricDef(
            id=f"plans_within_20_weeks_{kind}_exceptions_pct",
            title=f"New EHC plans issued within 20 weeks, {kind}uding exceptions (%)",
            definition=(
                "EHC plans issued within the statutory 20 weeks as a % of EHC plans issued in "
                f"the calendar year, {kind}uding cases where exceptions to the time limit apply."
                + (" This is the headline measure." if kind == "excl" else "")
            ),
            unit="pct",
            polarity="high_is_good",
            period_type="calendar_year",
            sources=(SOURCE,),
            numerator=f"plans_within_20_weeks_{kind}_exceptions_count",
            denominator=f"plans_issued_{kind}_exceptions_count",
            method="ratio of published counts (reproduces the published %)",
            series_breaks=(FLOW_BREAK,),
            statistic="proportion",
            break_years=(2023,),
            caveats=(
                cv.for_las(
                    (DORSET, CITY_OF_LONDON),
                    "2024: {names} classed all new plans as exceptions.",
                    years=(2024, 2024),
                ),
            ),
        )
        for kind in ("excl", "incl")
    ),
)


def choose_releases(tidy: pl.DataFrame, releases: Iterable[str] | None = None) -> pl.DataFrame:
    """Keep, for every measure, year and area, the row of the newest release allowed.

    A value the newest release publishes wrongly (status ``err``, see ``KnownError``) falls
    back to the newest release that published it correctly; the row's ``release`` says which.

    Args:
        tidy: the long tidy table (all releases).
        releases: the release labels allowed (e.g. those published by an ``as_of`` date);
            ``None`` allows all.

    """
    df = tidy if releases is None else tidy.filter(pl.col("release").is_in(list(releases)))
    ranked = df.with_columns((pl.col("status") == "err").alias("_err"))
    return (
        ranked.sort(["_err", "release"], descending=[False, True])
        .drop("_err")
        .unique(subset=["measure", "year", *AREA_KEYS], keep="first", maintain_order=True)
    )


def _measure(chosen: pl.DataFrame, measure: str) -> pl.DataFrame:
    return chosen.filter(pl.col("measure") == measure).select(
        *AREA_KEYS, *AREA_ATTRS, "year", "period_type", "value", *PROV
    )


def _lagged(df: pl.DataFrame, years: int, name: str) -> pl.DataFrame:
    """Return the value ``years`` earlier for the same area, as column ``name`` (and its release).

    Joined ``how="left"`` so an LA with no earlier value stays in the frame (null ``name``)
    and the pooled comparators name it as left out.
    """
    return df.select(
        *AREA_KEYS,
        (pl.col("year") + years).alias("year"),
        pl.col("value").alias(name),
        pl.col("release").alias(f"{name}_release"),
    )


def _releases_note(name: str) -> pl.Expr:
    """Note where a change compares values of two releases (e.g. new plans 2022 -> 2023)."""
    rel = f"{name}_release"
    return (
        pl.when(pl.col(rel).is_not_null() & (pl.col(rel) != pl.col("release")))
        .then(pl.concat_str(pl.lit("compares release "), pl.col(rel), pl.lit(" with release "),
                            pl.col("release")))
    )  # fmt: skip


def _join_notes(*notes: pl.Expr) -> pl.Expr:
    return pl.concat_str(list(notes), separator="; ", ignore_nulls=True).replace("", None)


def _positive(col: str) -> pl.Expr:
    """Null a base of zero (no ratio): the row stays, and is named as left out."""
    return pl.when(pl.col(col) > 0).then(pl.col(col)).alias(col)


def _statements_note(start_year: pl.Expr) -> pl.Expr:
    return pl.when(start_year < STATEMENTS_END_YEAR).then(pl.lit(STATEMENTS_NOTE))


def _caseload_metrics(chosen: pl.DataFrame) -> list[pl.DataFrame]:
    base = _measure(chosen, "ehc_plans_count")
    out = [
        _rows(
            base,
            "ehc_plans_count",
            pl.col("value"),
            numerator=pl.col("value"),
            note=_statements_note(pl.col("year")),
        )
    ]
    prev = base.join(_lagged(base, 1, "prev"), on=[*AREA_KEYS, "year"], how="left")
    out.append(
        _rows(
            prev,
            "ehc_plans_change_count",
            pl.col("value") - pl.col("prev"),
            numerator=pl.col("value") - pl.col("prev"),
            note=_statements_note(pl.col("year") - 1),
        )
    )
    out.append(
        _rows(
            prev.with_columns(_positive("prev")),
            "ehc_plans_change_pct",
            (pl.col("value") / pl.col("prev") - 1) * 100,
            numerator=pl.col("value") - pl.col("prev"),
            denominator=pl.col("prev"),
            note=_statements_note(pl.col("year") - 1),
        )
    )
    for base_year in (2015, 2019):
        ref = base.filter(pl.col("year") == base_year).select(
            *AREA_KEYS, pl.col("value").alias("ref")
        )
        idx = base.join(ref, on=AREA_KEYS, how="left").with_columns(_positive("ref"))
        out.append(
            _rows(
                idx,
                f"ehc_plans_index_{base_year}",
                pl.col("value") / pl.col("ref") * 100,
                numerator=pl.col("value"),
                denominator=pl.col("ref"),
                note=_statements_note(pl.min_horizontal(pl.col("year"), pl.lit(base_year))),
            )
        )
    for n in (5, 10):
        lag = base.join(_lagged(base, n, "start"), on=[*AREA_KEYS, "year"], how="left")
        lag = lag.with_columns(_positive("start"))
        out.append(
            _rows(
                lag,
                f"ehc_plans_cagr_{n}y_pct",
                ((pl.col("value") / pl.col("start")) ** (1.0 / n) - 1) * 100,
                numerator=pl.col("value"),
                denominator=pl.col("start"),
                note=_statements_note(pl.col("year") - n),
            )
        )
    return out


def _flow_note(year: pl.Expr) -> pl.Expr:
    return (
        pl.when(year < PERSON_LEVEL_FROM)
        .then(pl.lit("aggregate SEN2 return (before the 2023 person-level collection)"))
        .otherwise(pl.lit(None, pl.Utf8))
    )


def _ratio(chosen: pl.DataFrame, metric_id: str, num: str, den: str) -> pl.DataFrame:
    # Rows marked "not applicable" (z) are not figures the LA lacks; any other row stays, so an
    # LA publishing a row without a usable figure (x) is named as left out by the pooled
    # comparators. A zero denominator has no ratio.
    n = _measure(chosen.filter(pl.col("status") != "z"), num)
    d = _measure(chosen, den).select(*AREA_KEYS, "year", pl.col("value").alias("den"))
    j = n.join(d, on=[*AREA_KEYS, "year"], how="left")
    j = j.with_columns(_positive("den"))
    return _rows(
        j,
        metric_id,
        pl.col("value") / pl.col("den") * 100,
        numerator=pl.col("value"),
        denominator=pl.col("den"),
        note=_flow_note(pl.col("year")),
    )


def _flow_metrics(chosen: pl.DataFrame) -> list[pl.DataFrame]:
    out = []
    for m in ("new_ehc_plans_count", "requests_count"):
        # Rows with a marker (null value) stay: the pooled comparators name them as left out.
        base = _measure(chosen, m)
        out.append(
            _rows(
                base, m, pl.col("value"), numerator=pl.col("value"), note=_flow_note(pl.col("year"))
            )
        )
        prev = base.join(_lagged(base, 1, "prev"), on=[*AREA_KEYS, "year"], how="left")
        prev = prev.with_columns(_positive("prev"))
        crosses = (pl.col("year") - 1 < PERSON_LEVEL_FROM) & (pl.col("year") >= PERSON_LEVEL_FROM)
        out.append(
            _rows(
                prev,
                m.replace("_count", "_change_pct"),
                (pl.col("value") / pl.col("prev") - 1) * 100,
                numerator=pl.col("value") - pl.col("prev"),
                denominator=pl.col("prev"),
                spans_break=crosses,
                note=_join_notes(
                    pl.when(crosses)
                    .then(pl.lit(FLOW_BREAK_NOTE))
                    .otherwise(_flow_note(pl.col("year") - 1)),
                    _releases_note("prev"),
                ),
            )
        )
    out.append(_ratio(chosen, "requests_refused_pct", "requests_refused_count", "requests_count"))
    for kind in ("excl", "incl"):
        out.append(
            _ratio(
                chosen,
                f"plans_within_20_weeks_{kind}_exceptions_pct",
                f"plans_within_20_weeks_{kind}_exceptions_count",
                f"plans_issued_{kind}_exceptions_count",
            )
        )
    return out


def _value_of(metric_id: str) -> tuple[ValueOf, bool]:
    """How a metric's England and region figures are pooled: value function, needs a denominator."""
    if metric_id.endswith("_count"):
        return value_sum, False
    if "_cagr_" in metric_id:
        n = int(metric_id.split("_cagr_")[1].split("y_")[0])
        return (lambda num, den: ((num / den) ** (1.0 / n) - 1) * 100), True
    if metric_id.endswith("_change_pct"):
        return (lambda num, den: num / den * 100), True
    return value_ratio(100.0), True


def _pooled(frame: pl.DataFrame) -> pl.DataFrame:
    if frame.height == 0:
        return frame
    value_of, needs_den = _value_of(frame["metric_id"][0])
    return with_pooled_comparators(frame, value_of, needs_denominator=needs_den)


def compute(tidy: pl.DataFrame, releases: Iterable[str] | None = None) -> pl.DataFrame:
    """Compute every EHC plan metric for England, regions and LAs, all years.

    Args:
        tidy: the long tidy SEN2 table.
        releases: allowed release labels (``None``: all; the newest wins per value).

    """
    chosen = choose_releases(tidy, releases)
    needs = [
        _ratio(chosen, need_metric_id(code), f"primary_need_{code}_count", TOTAL_MEASURE)
        for code in PRIMARY_NEEDS
    ]
    frames = [_pooled(f) for f in _caseload_metrics(chosen) + _flow_metrics(chosen) + needs]
    return finish(
        frames,
        proportions=[
            "requests_refused_pct",
            "plans_within_20_weeks_excl_exceptions_pct",
            "plans_within_20_weeks_incl_exceptions_pct",
            *NEED_METRICS,
        ],
    )
