"""The benchmarking engine: hand-worked cases, properties, and the real metric tables."""

from __future__ import annotations

import itertools
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sendstats
from sendstats.benchmarking import api, bands, funnel, schema, table, text
from sendstats.geography.neighbours import custom_group, neighbours
from sendstats.metrics.registry import MetricDef, NoValueError, UnknownMetricError, get_metric
from sendstats.sources.readers import RawInputError

# --- hand-worked cases -------------------------------------------------------------------


def test_funnel_limits_for_a_proportion_hand_worked() -> None:
    # England 10%, LA denominator 100: 0.1 +/- 1.959964 * sqrt(0.1 * 0.9 / 100) = 0.1 +/- 0.0588
    low, high = funnel.proportion_limits(0.1, 100)
    assert low == pytest.approx(0.041201, abs=1e-6)
    assert high == pytest.approx(0.158799, abs=1e-6)
    # 99.8%: z = 3.090232 -> 0.1 +/- 0.092707
    low, high = funnel.proportion_limits(0.1, 100, funnel.Z_998)
    assert (low, high) == pytest.approx((0.007293, 0.192707), abs=1e-6)


def test_funnel_limits_for_a_rate_hand_worked() -> None:
    # 50 per 10,000 in a population of 20,000: expected 100 +/- 1.96 * 10 -> 40.2 to 59.8
    low, high = funnel.rate_limits(50, 20_000)
    assert (low, high) == pytest.approx((40.2, 59.8), abs=0.001)


def test_funnel_expressions_equal_the_scalar_functions() -> None:
    df = pl.DataFrame(
        {
            "statistic": ["proportion", "rate", "other"],
            "eng": [10.0, 50.0, 3.0],
            "den": [100.0, 20_000.0, 9.0],
        }
    )
    lo, hi = funnel.limit_exprs(pl.col("statistic"), pl.col("eng"), pl.col("den"), funnel.Z_95)
    out = df.select(lo.alias("lo"), hi.alias("hi"))
    assert out["lo"][0] == pytest.approx(4.1201, abs=1e-4)
    assert out["hi"][1] == pytest.approx(59.8, abs=1e-3)
    assert out["lo"][2] is None  # growth and indices get no funnel


def test_ties_share_rank_band_and_percentile() -> None:
    df = pl.DataFrame({"g": ["m"] * 4, "v": [10.0, 20.0, 20.0, 30.0], "pol": ["high_is_good"] * 4})
    out = df.with_columns(
        bands.band_expr(pl.col("v"), pl.col("pol"), ["g"]).alias("band"),
        bands.percentile_expr(pl.col("v"), ["g"]).alias("pct"),
    )
    assert out["band"].to_list() == ["D", "B", "B", "A"]
    assert out["pct"].to_list() == [12.5, 50.0, 50.0, 87.5]
    assert bands.percentile_of(20.0, [10.0, 20.0, 20.0, 30.0]) == 50.0


@pytest.mark.parametrize(
    ("polarity", "expected"),
    [
        ("high_is_good", ["D", "C", "B", "A"]),  # A = highest
        ("low_is_good", ["A", "B", "C", "D"]),  # A = lowest
        ("neither", ["D", "C", "B", "A"]),  # banded by value, A = highest, and said so
    ],
)
def test_band_for_each_polarity(polarity: str, expected: list[str]) -> None:
    df = pl.DataFrame({"g": ["m"] * 4, "v": [1.0, 2.0, 3.0, 4.0], "pol": [polarity] * 4})
    out = df.select(bands.band_expr(pl.col("v"), pl.col("pol"), ["g"]))
    assert out.to_series().to_list() == expected
    assert "A = " in bands.BAND_RULES[polarity]


def test_band_for_rank_quartiles_of_151() -> None:
    assert bands.band_for(1, 151) == "A"
    assert bands.band_for(38, 151) == "A"
    assert bands.band_for(39, 151) == "B"
    assert bands.band_for(151, 151) == "D"
    with pytest.raises(ValueError, match=r"1\.\.151"):
        bands.band_for(0, 151)


@pytest.mark.parametrize(
    ("low", "high", "polarity", "label"),
    [
        (6.0, 7.0, "high_is_good", "Better"),
        (6.0, 7.0, "low_is_good", "Worse"),
        (3.0, 4.0, "high_is_good", "Worse"),
        (3.0, 4.0, "low_is_good", "Better"),
        (4.0, 6.0, "low_is_good", "Similar"),
        (6.0, 7.0, "neither", "Higher"),
        (3.0, 4.0, "neither", "Lower"),
        (None, None, "high_is_good", "Not compared"),
    ],
)
def test_significance_respects_polarity(
    low: float | None, high: float | None, polarity: str, label: str
) -> None:
    england = 5.0
    assert funnel.significance(low, high, england, polarity) == label
    df = pl.DataFrame(
        {"lo": [low], "hi": [high], "eng": [england], "pol": [polarity], "stat": ["proportion"]},
        schema={
            "lo": pl.Float64,
            "hi": pl.Float64,
            "eng": pl.Float64,
            "pol": pl.Utf8,
            "stat": pl.Utf8,
        },
    )
    expr = funnel.significance_expr(
        pl.col("lo"), pl.col("hi"), pl.col("eng"), pl.col("pol"), pl.col("stat")
    )
    assert df.select(expr).item() == label


def _metric(statistic: str = "proportion") -> MetricDef:
    return get_metric(
        "tribunal_appeal_rate_pct" if statistic == "proportion" else "ehc_plans_cagr_5y_pct"
    )


def test_pooled_and_mean_comparators_differ_as_worked_by_hand() -> None:
    # LA 1: 1 of 10 (10%); LA 2: 50 of 100 (50%). Pooled 51/110 = 46.36%; mean 30%; median 30%.
    rows = pl.DataFrame(
        {
            "la_code_dfe": ["201", "202"],
            "value": [10.0, 50.0],
            "numerator": [1.0, 50.0],
            "denominator": [10.0, 100.0],
        }
    )
    metric = _metric()
    pooled, n = api.group_value(rows, custom_group(["201", "202"], "two", "pooled"), metric)
    mean, _ = api.group_value(rows, custom_group(["201", "202"], "two", "mean"), metric)
    median, _ = api.group_value(rows, custom_group(["201", "202"], "two", "median"), metric)
    assert pooled == pytest.approx(51 / 110 * 100)
    assert n == 2
    assert mean == pytest.approx(30.0)
    assert median == pytest.approx(30.0)
    with pytest.raises(ValueError, match="pooled averaging needs"):
        api.group_value(rows, custom_group(["201"], "one", "pooled"), _metric("other"))


def test_registry_refuses_an_id_without_its_unit_and_a_rate_without_denominator() -> None:
    with pytest.raises(ValueError, match="unit token '_pct'"):
        MetricDef(
            "appeal_rate",
            "x",
            "a definition long enough",
            "pct",
            "neither",
            "calendar_year",
            ("s",),
        )
    with pytest.raises(ValueError, match="numerator and denominator"):
        MetricDef(
            "appeal_rate_pct",
            "x",
            "a definition long enough",
            "pct",
            "neither",
            "calendar_year",
            ("s",),
            statistic="proportion",
        )
    with pytest.raises(ValueError, match="series-break caveat of that year"):
        MetricDef(
            "appeals_count",
            "x",
            "a definition long enough",
            "count",
            "neither",
            "calendar_year",
            ("s",),
            break_years=(2023,),
        )


# --- properties --------------------------------------------------------------------------


@given(
    st.lists(st.floats(0, 1000, allow_nan=False), min_size=2, max_size=60),
    st.sampled_from(["high_is_good", "low_is_good", "neither"]),
)
def test_bands_are_monotone_in_the_value(values: list[float], polarity: str) -> None:
    df = pl.DataFrame({"g": ["m"] * len(values), "v": values, "pol": [polarity] * len(values)})
    out = df.with_columns(bands.band_expr(pl.col("v"), pl.col("pol"), ["g"]).alias("b")).sort("v")
    order = [bands.BANDS.index(b) for b in out["b"]]
    # High is good (or no polarity): a higher value never gets a later band.
    pairs = list(itertools.pairwise(order))
    if polarity == "low_is_good":
        assert all(a <= b for a, b in pairs)
    else:
        assert all(a >= b for a, b in pairs)


@given(st.floats(0.001, 0.999), st.integers(1, 100_000))
def test_funnel_limits_contain_england(p0: float, n: int) -> None:
    for z in (funnel.Z_95, funnel.Z_998):
        low, high = funnel.proportion_limits(p0, n, z)
        assert 0 <= low <= p0 <= high <= 1
    lo95, hi95 = funnel.proportion_limits(p0, n)
    lo998, hi998 = funnel.proportion_limits(p0, n, funnel.Z_998)
    assert lo998 <= lo95 and hi95 <= hi998


# --- the real metric tables --------------------------------------------------------------


@pytest.fixture(scope="module")
def built(built_root: Path) -> Path:
    return built_root / "data"


@pytest.fixture(scope="module")
def bench(built: Path) -> pl.DataFrame:
    return pl.read_parquet(built / "metrics" / "benchmarks.parquet")


def test_benchmarks_table_is_valid_and_covers_every_la_metric_row(
    built: Path, bench: pl.DataFrame
) -> None:
    schema.BenchmarksTable.validate(bench, lazy=True)
    metrics = pl.concat(
        [
            pl.read_parquet(p)
            for p in sorted((built / "metrics").glob("*.parquet"))
            if p.stem != "benchmarks"
        ]
    )
    la = metrics.filter(pl.col("geographic_level") == "Local authority")
    assert bench.height == la.height


def test_sn_mean_is_the_unweighted_mean_of_the_ten_neighbours(bench: pl.DataFrame) -> None:
    mid, year = "tribunal_appeal_rate_pct", 2024
    rows = bench.filter((pl.col("metric_id") == mid) & (pl.col("year") == year))
    codes = [n.la_code_dfe for n in neighbours("886", "2025")]
    assert len(codes) == 10
    expected = rows.filter(pl.col("la_code_dfe").is_in(codes))["value"].mean()
    kent = rows.filter(pl.col("la_code_dfe") == "886").row(0, named=True)
    assert kent["sn2025_value"] == pytest.approx(expected)
    assert kent["sn2025_n"] == 10
    assert "unweighted mean" in kent["sn_rule"]


def test_region_comparator_is_pooled_not_a_mean_of_rates(built: Path, bench: pl.DataFrame) -> None:
    rows = bench.filter(
        (pl.col("metric_id") == "tribunal_appeal_rate_pct")
        & (pl.col("year") == 2024)
        & (pl.col("region_code") == "E12000008")
    )
    pooled = rows["numerator"].sum() / rows["denominator"].sum() * 100
    assert rows["region_value"][0] == pytest.approx(pooled)
    assert rows["region_value"][0] != pytest.approx(rows["value"].mean())


def test_england_comparator_is_the_published_england_figure(bench: pl.DataFrame) -> None:
    # January 2025: 638,745 EHC plans in England (DfE, Education, health and care plans 2025).
    row = bench.filter((pl.col("metric_id") == "ehc_plans_count") & (pl.col("year") == 2025)).row(
        0, named=True
    )
    assert row["england_value"] == 638_745
    assert row["gap_england"] is None  # a total is not compared with one LA


def test_changes_across_the_2023_sen2_break_are_flagged(bench: pl.DataFrame) -> None:
    rows = bench.filter(
        (pl.col("metric_id") == "requests_count") & (pl.col("la_code_dfe") == "886")
    )
    by_year = {r["year"]: r for r in rows.iter_rows(named=True)}
    assert by_year[2023]["change_prev_spans_break"] is True
    assert "2023" in by_year[2023]["change_note"]
    assert by_year[2024]["change_prev_spans_break"] is False
    assert (
        by_year[2024]["change_5y_spans_break"] is None
        or by_year[2024]["change_5y_spans_break"] is True
    )
    assert by_year[2024]["change_prev"] == pytest.approx(
        by_year[2024]["value"] - by_year[2023]["value"]
    )


def test_significance_and_funnel_agree_with_the_intervals(bench: pl.DataFrame) -> None:
    rows = bench.filter(pl.col("significance").is_in(["Higher", "Lower", "Better", "Worse"]))
    assert rows.height > 100
    outside = (rows["ci95_low"] > rows["england_value"]) | (
        rows["ci95_high"] < rows["england_value"]
    )
    assert outside.all()
    counts = bench.filter(pl.col("statistic") == "count")
    assert set(counts["significance"]) == {"Not compared"}


def test_benchmark_api_returns_a_typed_result(built: Path) -> None:
    r = sendstats.benchmark("tribunal_appeal_rate_pct", "Kent", period=2024)
    assert r.la_code_dfe == "886" and r.period == "2024"
    # Kent 2024: 1,559 appeals / 23,692 appealable decisions (MoJ/DfE 2014-2024 table).
    assert (r.numerator, r.denominator) == (1559, 23692)
    assert r.value == pytest.approx(6.58, abs=0.005)
    assert r.ci95 is not None and r.ci95[0] < r.value < r.ci95[1]
    assert [c.kind for c in r.comparators] == ["england", "region", "sn2021", "sn2025"]
    assert all(c.rule for c in r.comparators)
    custom = sendstats.benchmark(
        "tribunal_appeal_rate_pct",
        "886",
        2024,
        comparators=[custom_group(["Surrey", "Essex"], "Two counties", "pooled")],
    )
    assert custom.comparators[0].n_las == 2
    assert custom.comparators[0].rule.startswith("pooled")
    with pytest.raises(UnknownMetricError, match="known"):
        sendstats.benchmark("no_such_metric_pct", "Kent")
    with pytest.raises(NoValueError):
        sendstats.benchmark("tribunal_appeal_rate_pct", "Kent", period=1999)


def test_compare_text_shows_every_metric_with_a_legend(built: Path) -> None:
    out = text.compare_text("Kent", ["tribunal_appeal_rate_pct", "ehc_plans_count"])
    assert "tribunal_appeal_rate_pct" in out and "ehc_plans_count" in out
    assert "6.6%" in out and "20,635" in out
    assert "unweighted mean" in out


def test_schema_names_column_and_row_of_a_broken_table(bench: pl.DataFrame, tmp_path: Path) -> None:
    broken = bench.with_columns(
        pl.when(pl.int_range(pl.len()) == 3)
        .then(pl.lit("E"))
        .otherwise(pl.col("band"))
        .alias("band")
    )
    with pytest.raises(RawInputError, match=r"band.*row 4"):
        schema.validate(broken, tmp_path / "benchmarks.parquet")


def test_every_schema_column_is_described() -> None:
    described = schema.data_dictionary()
    assert [c for c, _, _ in described] == table.BENCHMARK_COLUMNS
    assert all(desc for _, _, desc in described)


def test_primary_need_shares_reproduce_every_published_percentage(
    built: Path, raw_archive: Path
) -> None:
    # DfE prints each need's % of all plans to 1 dp (sen_needs_all_plans.csv, 2025 release);
    # ours is number_<need> / ehc_plans x 100, rounded half up.
    from sendstats.core.numbers import round_half_up
    from sendstats.core.vocab import PRIMARY_NEEDS
    from sendstats.metrics.needs import need_metric_id

    raw = pl.read_csv(
        raw_archive / "ehcp/education-health-and-care-plans_2025/data/sen_needs_all_plans.csv",
        encoding="utf8-lossy",
        infer_schema=False,
    ).filter(
        pl.col("breakdown_topic") == "All EHC plans",
        pl.col("geographic_level") == "Local authority",
    )
    ours = pl.read_parquet(built / "metrics" / "ehcp.parquet")
    checked = 0
    # Surrey (936): the published SLD and SpLD percentages (7.8, 0.1) do not follow from the
    # published counts (595 and 665 of 16,069 plans): a publisher inconsistency, asserted so a
    # corrected file is noticed. sendstats computes from the counts.
    known = {("sld", "936"): 7.8, ("spld", "936"): 0.1}
    for code in PRIMARY_NEEDS:
        col = "unknown_pc" if code == "need_unknown" else f"{code}_pc"
        published = raw.select(
            pl.col("old_la_code").alias("la_code_dfe"), pl.col(col).cast(pl.Float64).alias("pub")
        )
        mine = ours.filter(pl.col("metric_id") == need_metric_id(code), pl.col("year") == 2025)
        joined = mine.join(published, on="la_code_dfe", how="inner").with_columns(
            round_half_up(pl.col("value"), 1).alias("ours")
        )
        assert joined.height == 153, code
        bad = joined.filter((pl.col("ours") - pl.col("pub")).abs() > 1e-9)
        found = {(code, la): pub for la, pub in bad.select("la_code_dfe", "pub").iter_rows()}
        assert found == {k: v for k, v in known.items() if k[0] == code}, found
        checked += joined.height
    assert checked == 153 * 13


def test_region_comparator_equals_the_published_regional_total(bench: pl.DataFrame) -> None:
    # DfE publishes regional rows in caseload.csv; the LAs of each region sum to them exactly.
    rows = bench.filter((pl.col("metric_id") == "ehc_plans_count") & (pl.col("year") == 2025))
    by_region = rows.group_by("region_code").agg(
        pl.col("value").sum().alias("summed"), pl.col("region_value").first()
    )
    assert by_region.height == 9
    assert (by_region["summed"] == by_region["region_value"]).all()


def test_metric_tables_meet_their_contract_and_a_broken_one_is_refused(
    built: Path, tmp_path: Path
) -> None:
    from sendstats.metrics import METRIC_TABLES
    from sendstats.metrics import schema as metric_schema

    for name in METRIC_TABLES:
        metric_schema.validate(pl.read_parquet(built / "metrics" / f"{name}.parquet"), tmp_path)
    table = pl.read_parquet(built / "metrics" / "tribunal.parquet")
    broken = table.with_columns(
        pl.when(pl.int_range(pl.len()) == 9)
        .then(pl.lit("XYZ"))
        .otherwise(pl.col("area_code"))
        .alias("area_code")
    )
    with pytest.raises(RawInputError, match=r"area_code.*row 10"):
        metric_schema.validate(broken, tmp_path / "tribunal.parquet")
    with pytest.raises(ValueError, match="not in the registry"):
        metric_schema.validate(
            table.with_columns(pl.lit("made_up_pct").alias("metric_id")), tmp_path
        )


def test_compare_command_with_a_user_group(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sendstats.cli import main

    args = ["compare", "Kent", "--metric", "tribunal_appeal_rate_pct"]
    assert main([*args, "--group", "Surrey, Essex", "--averaging", "pooled"]) == 0
    out = capsys.readouterr().out
    # Surrey and Essex 2024, pooled: their appeals / their appealable decisions.
    rows = pl.read_parquet(built / "metrics" / "tribunal.parquet").filter(
        pl.col("metric_id") == "tribunal_appeal_rate_pct",
        pl.col("year") == 2024,
        pl.col("la_code_dfe").is_in(["936", "881"]),
    )
    pooled = rows["numerator"].sum() / rows["denominator"].sum() * 100
    line = next(li for li in out.splitlines() if li.startswith("  SEND Tribunal appeal rate"))
    assert "Group" in out and f"{pooled:.1f}%" in line.split()
    assert "Group: Surrey, Essex (pooled" in " ".join(out.split())
    assert main(["compare", "Kent", "--metric", "no_such_pct"]) == 2  # a usage error
    assert "unknown metric" in capsys.readouterr().err
