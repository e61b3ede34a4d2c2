"""The inclusion picture on the real archive: placements, reviews, budgets, LAIT SEN measures."""

from __future__ import annotations

import csv
import hashlib
import math
import shutil
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from tidied import tidied

from sendstats.core.numbers import round_half_up_value
from sendstats.metrics import funding, placements, reviews, sen_support
from sendstats.metrics.schema import validate
from sendstats.sources import dfe_lait, dfe_sen2_placements, dfe_sen2_reviews
from sendstats.sources.readers import RawInputError

SEN2_2025 = Path("ehcp/education-health-and-care-plans_2025/data")
LAIT = Path("sen_census")


def _as_published(value: float) -> float:
    """Round as caseload.csv does: half up on the binary value of num / den * 100.

    So an exact tie goes up (0.25 -> 0.3) but a tie that binary floats hold just below goes
    down (Portsmouth 2024 FE: 309 / 2,000 x 100 = 15.4499... -> 15.4; Plymouth 2024 educated
    elsewhere: 399 / 2,800 x 100 = 14.2499... -> 14.2), unlike a decimal half-up rounding.
    """
    return float(Decimal(value).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _sen2(archive: Path, name: str) -> Path:
    return archive / SEN2_2025 / f"{name}.csv"


def _raw_rows(path: Path, **match: str) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [r for r in csv.DictReader(f) if all(r[k] == v for k, v in match.items())]


@pytest.fixture(scope="module")
def placements_tidy(raw_archive: Path) -> pl.DataFrame:
    return tidied(
        "tidy:dfe_sen2__placements", {("2025", "caseload"): _sen2(raw_archive, "caseload")}
    )


@pytest.fixture(scope="module")
def reviews_tidy(raw_archive: Path) -> pl.DataFrame:
    paths = {key: _sen2(raw_archive, key[1]) for key in dfe_sen2_reviews.required_files()}
    return tidied("tidy:dfe_sen2__reviews", paths)


@pytest.fixture(scope="module")
def lait_tidy(raw_archive: Path) -> pl.DataFrame:
    return tidied(
        "tidy:dfe_lait__sen",
        {
            (dfe_lait.RELEASE, "bds_long"): raw_archive / LAIT / "bds_long_0.parquet",
            (dfe_lait.RELEASE, "data_dictionary"): raw_archive / LAIT / "lait_data_dictionary.csv",
        },
    )


@pytest.fixture(scope="module")
def placement_metrics(placements_tidy: pl.DataFrame) -> pl.DataFrame:
    return validate(placements.compute(placements_tidy), Path("placements"))


@pytest.fixture(scope="module")
def review_metrics(reviews_tidy: pl.DataFrame, placements_tidy: pl.DataFrame) -> pl.DataFrame:
    return validate(reviews.compute(reviews_tidy, placements_tidy), Path("reviews"))


@pytest.fixture(scope="module")
def lait_metrics(lait_tidy: pl.DataFrame) -> pl.DataFrame:
    return validate(sen_support.compute(lait_tidy), Path("sen_support"))


def _one(df: pl.DataFrame, metric_id: str, year: int, area: str = "E92000001") -> dict[str, Any]:
    rows = df.filter(
        (pl.col("metric_id") == metric_id)
        & (pl.col("year") == year)
        & (pl.col("area_code") == area)
    )
    assert rows.height == 1, f"{metric_id} {year} {area}: {rows.height} rows"
    return rows.row(0, named=True)


# --- placements -------------------------------------------------------------------------------


def test_placement_groups_add_to_the_published_total_england_2025(
    placements_tidy: pl.DataFrame,
) -> None:
    eng = placements_tidy.filter(
        (pl.col("area_code") == "E92000001") & (pl.col("year") == 2025) & pl.col("adds_to_total")
    )
    assert eng["value"].sum() == 638_745  # published total of EHC plans, January 2025
    total = placements_tidy.filter(
        (pl.col("measure") == "placements_ehcplans_count") & (pl.col("area_code") == "E92000001")
    ).sort("year")
    assert total["value"].to_list() == [353995, 390109, 430697, 473255, 517048, 576474, 638745]


def test_footnote_5_rows_fall_short_of_the_total(placements_tidy: pl.DataFrame) -> None:
    eng = placements_tidy.filter((pl.col("area_code") == "E92000001") & (pl.col("year") == 2024))
    settings = eng.filter(pl.col("adds_to_total"))["value"].sum()
    total = eng.filter(pl.col("measure") == "placements_ehcplans_count")["value"].item()
    assert (total, settings) == (576_474, 572_829)  # Hackney, Peterborough: totals only


def test_every_published_group_pct_is_reproduced(
    placements_tidy: pl.DataFrame, placement_metrics: pl.DataFrame
) -> None:
    pairs = {"mainstream_total": "mainstream", "placement_unknown": "not_recorded"}
    pairs |= {"ap_pru_total": "alternative_provision", "fe_total": "post_16"}
    pairs |= {"ed_elsewhere": "elsewhere"}
    checked = 0
    for column, group in pairs.items():
        published = placements_tidy.filter(
            (pl.col("measure") == dfe_sen2_placements.measure_id(column, pct=True))
            & pl.col("value").is_not_null()
        ).select("area_code", "year", pl.col("value").alias("published"))
        # England and regions: the publisher's own rows (kept beside the pooled figure).
        ours = placement_metrics.filter(
            pl.col("metric_id") == placements.share_id(group)
        ).with_columns(pl.coalesce("published_value", "value").alias("value"))
        joined = published.join(ours, on=["area_code", "year"], how="inner")
        assert joined.height >= 480  # ~162 areas x 3 to 7 Januaries
        for row in joined.iter_rows(named=True):
            assert _as_published(row["value"]) == row["published"], row
        checked += joined.height
    assert checked > 4_500


def test_england_placements_against_published_figures(placement_metrics: pl.DataFrame) -> None:
    mainstream = _one(placement_metrics, "plans_mainstream_count", 2025)
    assert mainstream["published_value"] == 278_236
    # Pooled over the LAs with settings: Cambridgeshire's and North East Lincolnshire's
    # placements are suppressed in their LA rows but counted in England's (footnote 1).
    assert (mainstream["value"], mainstream["n_las"]) == (278_236 - 91, 151)
    state = _one(placement_metrics, "plans_state_special_count", 2025)
    assert state["published_value"] == 85_920 + 73_932
    indep = _one(placement_metrics, "plans_independent_special_count", 2025)
    assert indep["published_value"] == 29_647 + 4_381
    share = _one(placement_metrics, "plans_mainstream_pct", 2025)
    assert round_half_up_value(float(share["published_value"]), 1) == 43.6
    growth = _one(placement_metrics, "plans_independent_special_index_2019", 2025)
    assert growth["published_value"] == pytest.approx((29_647 + 4_381) / (13_744 + 3_788) * 100)


def test_leeds_state_special_share_by_hand(
    raw_archive: Path, placement_metrics: pl.DataFrame
) -> None:
    (row,) = _raw_rows(
        _sen2(raw_archive, "caseload"),
        time_period="202425",
        la_name="Leeds",
        breakdown="All EHC plans",
    )
    special = int(row["special_la_maintained"]) + int(row["special_academy_free"])
    share = special / int(row["ehcplans"]) * 100
    leeds = placement_metrics.filter(pl.col("la_code_dfe") == "383")
    got = leeds.filter(
        (pl.col("metric_id") == "plans_state_special_pct") & (pl.col("year") == 2025)
    )
    assert got["value"].item() == pytest.approx(share)
    assert got["denominator"].item() == int(row["ehcplans"])


def test_suppressed_placements_stay_markers(placements_tidy: pl.DataFrame) -> None:
    cambs = placements_tidy.filter(
        (pl.col("la_code_dfe") == "873")
        & (pl.col("year") == 2025)
        & (pl.col("measure") == "placements_mainstream_total_count")
    )
    assert cambs["status"].item() == "x" and cambs["value"].item() is None


def test_a_group_that_no_longer_adds_up_is_refused(raw_archive: Path, tmp_path: Path) -> None:
    text = _sen2(raw_archive, "caseload").read_text(encoding="utf-8-sig")
    header, *lines = text.splitlines(keepends=True)
    cols = header.rstrip("\r\n").split(",")
    i = cols.index("mainstream_academy")
    for n, line in enumerate(lines):
        cells = line.rstrip("\r\n").split(",")
        if cells[9] == "Leeds" and cells[0] == "202425" and cells[11] == "All EHC plans":
            cells[i] = str(int(cells[i]) + 1)
            lines[n] = ",".join(cells) + "\n"
            break
    bad = tmp_path / "caseload.csv"
    bad.write_text(header + "".join(lines), encoding="utf-8")
    with pytest.raises(RawInputError, match="Leeds, January 2025") as err:
        dfe_sen2_placements.tidy({("2025", "caseload"): bad})
    assert "mainstream_total" in str(err.value)


# --- annual reviews, ceased plans, personal budgets -------------------------------------------


def test_england_reviews_against_published_figures(review_metrics: pl.DataFrame) -> None:
    # England's published rows are kept beside the figure pooled over the LAs returning data
    # (Blackpool and Reading returned none; five LAs are suppressed, footnote 1).
    within = _one(review_metrics, "review_outcome_within_4_weeks_pct", 2024)
    assert within["published_value"] == pytest.approx(154_924 / (154_924 + 193_835) * 100)
    assert round_half_up_value(float(within["published_value"]), 1) == 44.4
    # 7 LAs suppressed, and 4 (Thurrock, Greenwich, Lewisham, Brighton and Hove) record no
    # review outcome sent at all (0 within and 0 after 4 weeks): no rate, left out of the pool.
    assert within["n_las"] == 153 - 7 - 4
    held = _one(review_metrics, "review_meetings_held_pct", 2024)
    assert held["published_value"] == pytest.approx(453_761 / 524_654 * 100)
    amend = _one(review_metrics, "review_outcome_amend_pct", 2024)
    assert amend["published_value"] == pytest.approx(219_538 / 453_761 * 100)


def test_every_la_published_4_week_pct_is_reproduced(
    raw_archive: Path, review_metrics: pl.DataFrame
) -> None:
    rows = _raw_rows(
        _sen2(raw_archive, "annual_reviews"),
        geographic_level="Local authority",
        breakdown="All annual reviews",
    )
    ours = review_metrics.filter(pl.col("metric_id") == "review_outcome_within_4_weeks_pct")
    by_code = dict(zip(ours["la_code_dfe"], ours["value"], strict=True))
    checked = 0
    for r in rows:
        if r["pc_decsion_4weeks"] in ("x", "z"):
            assert r["old_la_code"] not in by_code
            continue
        assert round_half_up_value(by_code[r["old_la_code"]], 1) == float(r["pc_decsion_4weeks"])
        checked += 1
    assert checked >= 140


def test_repeated_review_column_is_checked(raw_archive: Path, tmp_path: Path) -> None:
    src = _sen2(raw_archive, "annual_reviews")
    text = src.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    cells = text[1].split(",")
    cells[18] = "999999"  # the second review_meeting_prior_24 of the first data row
    text[1] = ",".join(cells)
    bad = tmp_path / "annual_reviews.csv"
    bad.write_text("".join(text), encoding="utf-8")
    paths = {k: _sen2(raw_archive, k[1]) for k in dfe_sen2_reviews.required_files()}
    paths[("2025", "annual_reviews")] = bad
    with pytest.raises(RawInputError, match="disagree") as err:
        dfe_sen2_reviews.tidy(paths)
    assert err.value.row == 1 and err.value.column == "review_meeting_prior_24"


def test_ceased_and_personal_budgets_england(review_metrics: pl.DataFrame) -> None:
    assert [_one(review_metrics, "ceased_plans_count", y)["value"] for y in (2022, 2023, 2024)] == [
        34_724,
        39_419,
        44_862,
    ]
    transfer = _one(review_metrics, "ceased_transfer_pct", 2024)
    assert (transfer["numerator"], transfer["denominator"]) == (13_953, 44_862)
    pb = _one(review_metrics, "plans_with_personal_budget_pct", 2025)
    assert (pb["numerator"], pb["denominator"]) == (19_596, 638_745)


def test_kent_review_amend_share_by_hand(raw_archive: Path, review_metrics: pl.DataFrame) -> None:
    (row,) = _raw_rows(
        _sen2(raw_archive, "annual_reviews"), la_name="Kent", breakdown="All annual reviews"
    )
    expected = int(row["outcome_amend"]) / int(row["total_review_meeting"]) * 100
    got = review_metrics.filter(
        (pl.col("metric_id") == "review_outcome_amend_pct") & (pl.col("la_code_dfe") == "886")
    )
    assert got["value"].item() == pytest.approx(expected)


def test_suppressed_reviews_have_no_rate(review_metrics: pl.DataFrame) -> None:
    held = review_metrics.filter(pl.col("metric_id") == "review_meetings_held_pct")
    for code in ("890", "870", "936"):  # Blackpool, Reading, Surrey (data guidance footnote 1)
        assert code not in held["la_code_dfe"].to_list()


# --- LAIT: SEN support, plans, outcomes by SEN status -----------------------------------------


def test_england_lait_against_published_figures(lait_metrics: pl.DataFrame) -> None:
    # Special educational needs in England, January 2025: 14.2% SEN support, 5.3% EHC plans.
    assert _one(lait_metrics, "sen_support_pupils_pct", 2025)["value"] == 14.2
    assert _one(lait_metrics, "ehc_plan_pupils_pct", 2025)["value"] == 5.3
    assert _one(lait_metrics, "sen_support_pupils_pct", 2016)["value"] == 11.6
    assert _one(lait_metrics, "attainment8_no_sen_score", 2024)["value"] == 49.8
    gap = _one(lait_metrics, "level2_at_19_gap_ehc_plan_pct", 2024)
    assert gap["value"] == pytest.approx(88.48 - 29.81)


def test_lait_markers_and_scientific_notation(lait_tidy: pl.DataFrame) -> None:
    p8 = lait_tidy.filter(
        (pl.col("measure") == "progress8_no_sen_score") & (pl.col("area_code") == "E92000001")
    ).sort("year")
    by_year = dict(zip(p8["year"], p8["value"], strict=True))
    assert by_year[2017] == pytest.approx(0.07)  # published as 7.0000000000000007E-2
    assert by_year[2020] is None  # "-": no Progress 8 in 2020
    assert p8.filter(pl.col("year") == 2020)["status"].item() == "-"
    assert lait_tidy["underlying_publication"].str.starts_with("https://").all()


def test_leeds_attainment8_gap_by_hand(raw_archive: Path, lait_metrics: pl.DataFrame) -> None:
    raw = pl.read_parquet(raw_archive / LAIT / "bds_long_0.parquet").filter(
        (pl.col("LA Number") == 383) & (pl.col("Years") == "2024")
    )

    def value(code: str) -> float:
        return float(raw.filter(pl.col("Short Desc") == code)["Values"].item())

    expected = value("SEN_NoID_AVG_Attain8_Score") - value("SEN_Stat_AVG_Attain8_Score")
    got = lait_metrics.filter(
        (pl.col("metric_id") == "attainment8_gap_ehc_plan_score")
        & (pl.col("la_code_dfe") == "383")
        & (pl.col("year") == 2024)
    )
    assert got["value"].item() == pytest.approx(expected)


def test_ascl_figure_is_not_an_all_schools_figure(lait_metrics: pl.DataFrame) -> None:
    eng = lait_metrics.filter(pl.col("area_code") == "E92000001")
    all_schools = eng.filter(pl.col("metric_id") == "sen_support_pupils_pct")
    assert 11.5 not in all_schools["value"].to_list()
    assert _one(lait_metrics, "sen_support_pupils_pct", 2021)["value"] == 12.2
    assert _one(lait_metrics, "sen_support_secondary_pct", 2021)["value"] == 11.5


def test_unknown_lait_la_number_is_refused(raw_archive: Path, tmp_path: Path) -> None:
    raw = pl.read_parquet(raw_archive / LAIT / "bds_long_0.parquet")
    bad = raw.with_columns(
        pl.when(pl.col("LA Number") == 383)
        .then(399.0)
        .otherwise(pl.col("LA Number"))
        .alias("LA Number")
    )
    path = tmp_path / "bds_long_0.parquet"
    bad.write_parquet(path)
    dictionary = tmp_path / "lait_data_dictionary.csv"
    shutil.copy(raw_archive / LAIT / "lait_data_dictionary.csv", dictionary)
    with pytest.raises(RawInputError, match="LA Number"):
        dfe_lait.tidy(
            {
                (dfe_lait.RELEASE, "bds_long"): path,
                (dfe_lait.RELEASE, "data_dictionary"): dictionary,
            }
        )


def test_declared_pins_match_the_held_lait_files(raw_archive: Path) -> None:
    from sendstats.acquire import catalog

    release = catalog.get_source("dfe_lait").release(dfe_lait.RELEASE)
    for f in release.files:
        held = (raw_archive / LAIT / f.filename).read_bytes()
        assert (hashlib.sha256(held).hexdigest(), len(held)) == (f.sha256, f.bytes)


# --- deficits against funding ------------------------------------------------------------------


def test_fisher_interval_by_hand() -> None:
    frame = pl.DataFrame(
        {
            "year": [2020] * 6,
            "block_per_head_gbp": [500.0, 550.0, 600.0, 650.0, 700.0, 760.0],
            "dsg_balance_pct": [-5.0, -2.0, -4.0, 1.0, 0.5, 2.0],
        }
    )
    c = funding.correlate(frame, 2020)
    x, y = frame["block_per_head_gbp"].to_list(), frame["dsg_balance_pct"].to_list()
    mx, my = sum(x) / 6, sum(y) / 6
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    r = sxy / math.sqrt(sum((a - mx) ** 2 for a in x) * sum((b - my) ** 2 for b in y))
    assert c.r == pytest.approx(r)
    half = 1.959963984540054 / math.sqrt(3)
    assert (c.low, c.high) == pytest.approx(
        (math.tanh(math.atanh(r) - half), math.tanh(math.atanh(r) + half))
    )
    assert "positive association" in c.in_words("FY 2020-21")


# --- one hand-computed LA per new metric (Kent, 886), from the raw files ----------------------

KENT = "886"


def _kent(metrics: pl.DataFrame, metric_id: str, year: int) -> float:
    rows = metrics.filter(
        (pl.col("metric_id") == metric_id)
        & (pl.col("la_code_dfe") == KENT)
        & (pl.col("year") == year)
    )
    assert rows.height == 1, (metric_id, year)
    return float(rows["value"].item())


@pytest.mark.parametrize("group", list(placements.GROUPS))
def test_kent_placement_metrics_by_hand(
    raw_archive: Path, placement_metrics: pl.DataFrame, group: str
) -> None:
    def kent(period: str) -> dict[str, str]:
        (row,) = _raw_rows(
            _sen2(raw_archive, "caseload"),
            time_period=period,
            old_la_code=KENT,
            breakdown="All EHC plans",
        )
        return row

    now, base = kent("202425"), kent("201819")
    columns = placements.GROUPS[group][0]

    def count(row: dict[str, str]) -> int:
        return sum(int(row[c]) for c in columns)

    share = _kent(placement_metrics, placements.share_id(group), 2025)
    assert share == pytest.approx(count(now) / int(now["ehcplans"]) * 100)  # Kent adds up
    if group in ("mainstream", "state_special", "independent_special"):
        assert _kent(placement_metrics, placements.count_id(group), 2025) == count(now)
        index = _kent(placement_metrics, placements.index_id(group), 2025)
        assert index == pytest.approx(count(now) / count(base) * 100)


def _raw_column(measure: str) -> tuple[str, str]:
    """Return (file, raw column) of a reviews measure, from the reader's own maps."""
    for name, (spec, _) in dfe_sen2_reviews.SPECS.items():
        for raw, m in spec.measures.items():
            if m == measure:
                return name, raw
    raise KeyError(measure)


@pytest.mark.parametrize("metric_id", [*reviews.RATIOS, *reviews.COUNTS])
def test_kent_review_metrics_by_hand(
    raw_archive: Path, review_metrics: pl.DataFrame, metric_id: str
) -> None:
    if metric_id in reviews.RATIOS:
        num, den = reviews.RATIOS[metric_id][:2]
    else:
        num, den = (metric_id,), ()
    file = _raw_column(num[0])[0]
    topic = {"annual_reviews": "All annual reviews", "ceased_plans": "All ceased EHC plans"}
    topic["personal_budgets"] = "All personal budgets"
    period = "202425" if file == "personal_budgets" else "2024"
    (row,) = _raw_rows(
        _sen2(raw_archive, file), time_period=period, old_la_code=KENT, breakdown=topic[file]
    )

    def total(measures: tuple[str, ...]) -> int:
        return sum(int(row[_raw_column(m)[1]]) for m in measures)

    expected = total(num) / total(den) * 100 if den else total(num)
    assert _kent(review_metrics, metric_id, 2025 if period == "202425" else 2024) == (
        pytest.approx(expected)
    )


def test_kent_personal_budget_rate_by_hand(raw_archive: Path, review_metrics: pl.DataFrame) -> None:
    (pb,) = _raw_rows(
        _sen2(raw_archive, "personal_budgets"),
        time_period="202425",
        old_la_code=KENT,
        breakdown="All personal budgets",
    )
    (plans,) = _raw_rows(
        _sen2(raw_archive, "caseload"),
        time_period="202425",
        old_la_code=KENT,
        breakdown="All EHC plans",
    )
    expected = int(pb["personal_budget"]) / int(plans["ehcplans"]) * 100
    assert _kent(review_metrics, reviews.PB_RATE, 2025) == pytest.approx(expected)


@pytest.mark.parametrize(
    "metric_id",
    [
        *sen_support.SHARES,
        *(sen_support.outcome_id(o, s) for o in sen_support.OUTCOMES for s in sen_support.STATUSES),
        *(
            sen_support.gap_id(o, s)
            for o in sen_support.OUTCOMES
            for s in ("ehc_plan", "sen_support")
        ),
    ],
)
def test_kent_lait_metrics_by_hand(
    raw_archive: Path, lait_metrics: pl.DataFrame, metric_id: str
) -> None:
    raw = pl.read_parquet(raw_archive / LAIT / "bds_long_0.parquet").filter(
        (pl.col("LA Number") == int(KENT)) & (pl.col("Years") == "2023")
    )
    code = {i.measure: i.lait_code for i in dfe_lait.INDICATORS}

    def value(measure: str) -> float:
        return float(raw.filter(pl.col("Short Desc") == code[measure])["Values"].item())

    if "_gap_" in metric_id:
        outcome, status = metric_id.split("_gap_")
        status = status.rsplit("_", 1)[0]
        expected = value(sen_support.outcome_id(outcome, "no_sen")) - value(
            sen_support.outcome_id(outcome, status)
        )
    else:
        expected = value(metric_id)
    assert _kent(lait_metrics, metric_id, 2023) == pytest.approx(expected)


def test_england_ceased_and_budgets_more_published_figures(review_metrics: pl.DataFrame) -> None:
    needs_met = _one(review_metrics, "ceased_needs_met_pct", 2022)
    assert (needs_met["numerator"], needs_met["denominator"]) == (4_054, 34_724)
    budgets = [
        _one(review_metrics, "personal_budgets_count", y)["published_value"]
        for y in range(2020, 2026)
    ]
    assert budgets == [20_346, 22_233, 25_259, 18_887, 18_258, 19_596]
    # January 2024: pooled over the LAs with a figure, 4 fewer than published (one LA is x).
    assert _one(review_metrics, "personal_budgets_count", 2024)["value"] == 18_254
    first = _one(review_metrics, "plans_with_personal_budget_pct", 2020)
    assert (first["numerator"], first["denominator"]) == (20_346, 390_109)


@pytest.mark.parametrize(("year", "n_las"), [(2019, 152), (2020, 151), (2022, 152), (2024, 153)])
def test_lait_la_counts_follow_reorganisations(
    lait_tidy: pl.DataFrame, year: int, n_las: int
) -> None:
    # Bournemouth and Poole merge (2019 -> BCP, January 2020 on), Northamptonshire splits
    # (January 2022 on), Cumbria splits (April 2023: January 2024 on). LAIT keeps every old LA
    # as a row of "-", so values, not rows, follow the geography.
    rows = lait_tidy.filter(
        (pl.col("measure") == "sen_support_pupils_pct")
        & (pl.col("geographic_level") == "Local authority")
        & (pl.col("year") == year)
    )
    assert rows["value"].count() == n_las


def test_personal_budget_kinds_are_not_a_breakdown(reviews_tidy: pl.DataFrame) -> None:
    # Why no shares by kind: January 2023 has LAs with more budgets of one kind than in all.
    la = reviews_tidy.filter(
        (pl.col("topic") == "personal_budgets") & (pl.col("geographic_level") == "Local authority")
    )
    wide = la.pivot(on="measure", index=["la_code_dfe", "year"], values="value")
    kinds = [c for c in wide.columns if c.endswith("_only_count") or "integrated" in c]
    over = wide.filter(pl.max_horizontal(*kinds) > pl.col("personal_budgets_count"))
    assert over["year"].unique().to_list() == [2023] and over.height == 12
    hartlepool = over.filter(pl.col("la_code_dfe") == "805").row(0, named=True)
    assert (
        hartlepool["personal_budgets_social_care_only_count"],
        hartlepool["personal_budgets_count"],
    ) == (101, 21)
