"""Where children and young people with EHC plans are taught: SEN2 2025 ``caseload.csv`` by setting.

Reads the "All EHC plans" rows of ``caseload.csv`` (DfE, *Education, health and care plans*,
reporting year 2025; January 2019 to January 2025) into the long tidy table
``dfe_sen2__placements``: one row per year, area and setting as published, with the setting's
group (mainstream, special, alternative provision, further education and post-16, educated
elsewhere, early years, not recorded, pre-2023 categories) and the publisher's label from the
data guidance, so metric code needs no constant from here.

Checks beyond the shared EES ones (each a loud error naming file, column and row):
- each group total is the sum of its settings (mainstream, special, AP, FE, educated elsewhere);
- the groups add up to the published total of plans, as the data guidance implies (footnote 5
  names the only rows that do not: January 2024 totals include Hackney and Peterborough, which
  returned totals only). The layout changed in January 2024: "other types of placement" counts
  inside "educated elsewhere" from 2024, beside it before (found from the file, asserted).
- LA rows whose settings are all suppressed (``x``: Hackney and Peterborough in 2024,
  Cambridgeshire and North East Lincolnshire in 2025, data guidance footnotes 1 and 5) are
  kept as markers, never as zero; England and region rows of those years include placements the
  LA rows do not show, so LA sums are compared with England only where no LA is marked.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pandera.polars as pa
import polars as pl
from pandera.typing.polars import Series

from sendstats.sources.dfe_sen2_tables import SOURCE_ID, Sen2TableTidy
from sendstats.sources.ees import EesFileSpec, read_tidy
from sendstats.sources.readers import RawInputError

TABLE = "dfe_sen2__placements"
RELEASE = "2025"
FILE = "caseload"


class Setting(NamedTuple):
    """One published setting column: its group, its level and the data guidance's label."""

    column: str
    group: str
    level: str  # "total" (all plans), "group" (a published group total) or "setting"
    label: str


#: Every count column of ``caseload.csv`` with the data guidance's description (2025 release).
SETTINGS: tuple[Setting, ...] = (
    Setting("ehcplans", "all", "total", "Total number of EHC plans"),
    Setting(
        "mainstream_la_maintained", "mainstream", "setting", "Mainstream LA maintained schools"
    ),
    Setting(
        "mainstream_la_maintained_resourced_provision",
        "mainstream",
        "setting",
        "Mainstream LA maintained schools - resourced provision",
    ),
    Setting(
        "mainstream_la_maintained_senunit",
        "mainstream",
        "setting",
        "Mainstream LA maintained schools - SEN units",
    ),
    Setting("mainstream_academy", "mainstream", "setting", "Mainstream academies"),
    Setting(
        "mainstream_academy_resourced_provision",
        "mainstream",
        "setting",
        "Mainstream academies - resourced provision",
    ),
    Setting(
        "mainstream_academy_senunit", "mainstream", "setting", "Mainstream academies - SEN units"
    ),
    Setting("mainstream_free_school", "mainstream", "setting", "Mainstream free schools"),
    Setting(
        "mainstream_free_school_resourced_provision",
        "mainstream",
        "setting",
        "Mainstream free schools - resourced provision",
    ),
    Setting(
        "mainstream_free_school_senunit",
        "mainstream",
        "setting",
        "Mainstream free schools - SEN units",
    ),
    Setting("mainstream_independent", "mainstream", "setting", "Mainstream independent schools"),
    Setting("mainstream_total", "mainstream", "group", "Total mainstream schools"),
    Setting("special_la_maintained", "special", "setting", "LA maintained special schools"),
    Setting("special_academy_free", "special", "setting", "Special academies and free schools"),
    Setting("special_independent", "special", "setting", "Independent special schools"),
    Setting("special_non_maintained", "special", "setting", "Non maintained special schools"),
    Setting("special_total", "special", "group", "Total special schools"),
    Setting("ap_pru_academy", "ap", "setting", "Alternative provision academies"),
    Setting("ap_pru_free_school", "ap", "setting", "Alternative provision free schools"),
    Setting("ap_pru_la_maintained", "ap", "setting", "Pupil referral units"),
    Setting("ap_pru_total", "ap", "group", "Total alternative provision"),
    Setting("general_fe_tertiary_colleges", "fe", "setting", "FE colleges and sixth forms"),
    Setting(
        "specialist_post_16_institutions", "fe", "setting", "Specialist post 16 establishments"
    ),
    Setting("ukrlp_provider", "fe", "setting", "UKRLP providers"),
    Setting("fe_total", "fe", "group", "Total further education and post 16"),
    Setting("elective_home_education", "elsewhere", "setting", "Elective home education"),
    Setting("other_arrangements_la", "elsewhere", "setting", "Other arrangements made by LA"),
    Setting(
        "other_arrangements_parents", "elsewhere", "setting", "Other arrangements made by parents"
    ),
    Setting("online_provider", "elsewhere", "setting", "Online providers"),
    Setting("w_settings", "elsewhere", "setting", "Welsh schools and establishments"),
    Setting("other_schools", "elsewhere", "setting", "Other school types"),
    Setting("other_placement_settings", "elsewhere", "setting", "Other types of placement"),
    Setting("neet", "elsewhere", "setting", "Not in employment, education or training"),
    Setting(
        "neet_ntci", "elsewhere", "setting", "Not in education or training - notice to cease issued"
    ),
    Setting(
        "neet_other", "elsewhere", "setting", "Not in education or training - other age groups"
    ),
    Setting(
        "neet_other_csa",
        "elsewhere",
        "setting",
        "Not in education or training - compulsory school age",
    ),
    Setting("ed_elsewhere", "elsewhere", "group", "Total educated elsewhere"),
    Setting("nm_early_years", "early_years", "group", "Non maintained early years"),
    Setting("placement_unknown", "unknown", "group", "Placement not recorded"),
    Setting("await_prov_2022", "pre_2023", "group", "Awaiting provision (pre 2023 only)"),
    Setting("perm_ex_2022", "pre_2023", "group", "Permanently excluded (pre 2023 only)"),
)
#: Published percentages of all plans, kept to check our shares against (1 dp).
PUBLISHED_PCT: dict[str, str] = {
    "mainstream_total_pc": "mainstream_total",
    "special_total_pc": "special_total",
    "AP_PRU_total_pc": "ap_pru_total",
    "fe_total_pc": "fe_total",
    "ed_elsewhere_pc": "ed_elsewhere",
    "nm_early_years_pc": "nm_early_years",
    "placement_unknown_pc": "placement_unknown",
}
#: January from which "other types of placement" is counted inside "educated elsewhere".
OTHER_PLACEMENTS_IN_ELSEWHERE_FROM = 2024
#: Rows whose settings do not add to the total, as the data guidance says (footnote 5).
NOT_ADDING_UP: dict[tuple[int, str], str] = {
    (2024, area): (
        "January 2024 totals include Hackney and Peterborough, which submitted totals but no "
        "individual-level data (caseload.csv footnote 5): settings do not sum to the total"
    )
    for area in ("E92000001", "E12000006", "E12000007")  # England, East of England, London
}


def measure_id(column: str, *, pct: bool = False) -> str:
    """Return the tidy measure id of a setting column (``placements_<column>_count``)."""
    return f"placements_{column}_published_pct" if pct else f"placements_{column}_count"


SPEC = EesFileSpec(
    release=RELEASE,
    name=FILE,
    period_type="academic_year",
    filters={"breakdown_topic": "All EHC plans", "breakdown": "All EHC plans"},
    measures={
        **{s.column: measure_id(s.column) for s in SETTINGS},
        **{raw: measure_id(col, pct=True) for raw, col in PUBLISHED_PCT.items()},
    },
)


class PlacementsTidy(Sen2TableTidy):
    """EHC plans at January by setting attended: the SEN2 layout plus the setting it counts."""

    setting: Series[str] = pa.Field(description="Published column name of the setting.")
    setting_group: Series[str] = pa.Field(
        isin=sorted({s.group for s in SETTINGS}),
        description="mainstream, special, ap, fe, elsewhere, early_years, unknown, pre_2023, all.",
    )
    setting_level: Series[str] = pa.Field(
        isin=["total", "group", "setting"],
        description="total = all plans; group = a published group total; setting = one type.",
    )
    setting_label: Series[str] = pa.Field(description="The data guidance's description.")
    adds_to_total: Series[bool] = pa.Field(
        description=(
            "True for the counts that add up to all plans in this year: the group totals, and "
            "'other types of placement' before January 2024 (counted beside 'educated "
            "elsewhere' then, inside it since)."
        )
    )
    is_published_pct: Series[bool] = pa.Field(
        description="True for the publisher's own % of all plans (1 dp), False for counts."
    )


TIDY_COLUMNS = list(PlacementsTidy.to_schema().columns)


def required_files() -> list[tuple[str, str]]:
    """Return the (release, file name) pairs :func:`tidy` reads."""
    return [(RELEASE, FILE)]


def _setting_columns() -> pl.DataFrame:
    rows = [
        (measure_id(s.column), s.column, s.group, s.level, s.label, False) for s in SETTINGS
    ] + [
        (measure_id(col, pct=True), col, _group(col), "group", f"{_label(col)} (%)", True)
        for col in PUBLISHED_PCT.values()
    ]
    return pl.DataFrame(
        rows,
        schema=[
            "measure",
            "setting",
            "setting_group",
            "setting_level",
            "setting_label",
            "is_published_pct",
        ],
        orient="row",
    )


def _group(column: str) -> str:
    return next(s.group for s in SETTINGS if s.column == column)


def _label(column: str) -> str:
    return next(s.label for s in SETTINGS if s.column == column)


def tidy(
    paths: dict[tuple[str, str], Path] | dict[tuple[str, str], tuple[Path, str]],
) -> pl.DataFrame:
    """Read ``caseload.csv`` into the placements table, its sums checked (schema: by the build).

    Args:
        paths: (release, file name) -> local path, or (local path, sha256) as the old build
            passes them.

    Raises:
        RawInputError: the file drifted, or a group does not add up.

    """
    path, sha = _path_and_sha(paths[(RELEASE, FILE)])
    long = read_tidy(path, SPEC, source_id=SOURCE_ID, file_sha256=sha)
    long = long.join(_setting_columns(), on="measure", how="left")
    check_sums(long, path)
    late = pl.col("year") >= OTHER_PLACEMENTS_IN_ELSEWHERE_FROM
    long = long.with_columns(
        (
            ~pl.col("is_published_pct")
            & (
                (pl.col("setting_level") == "group")
                | ((pl.col("setting") == "other_placement_settings") & ~late)
            )
        ).alias("adds_to_total")
    )
    out = long.select(TIDY_COLUMNS).sort("measure", "year", "geographic_level", "area_code")
    return out


def _path_and_sha(entry: Path | tuple[Path, str]) -> tuple[Path, str]:
    import hashlib

    if isinstance(entry, tuple):
        return entry
    return entry, hashlib.sha256(entry.read_bytes()).hexdigest()


def _wide(long: pl.DataFrame) -> pl.DataFrame:
    counts = long.filter(~pl.col("is_published_pct"))
    return counts.pivot(
        on="setting",
        index=["year", "geographic_level", "area_code", "area_name", "raw_row"],
        values="value",
    )


def _sum(columns: list[str]) -> pl.Expr:
    return pl.sum_horizontal(pl.col(c).fill_null(0) for c in columns)


def check_sums(long: pl.DataFrame, path: Path) -> None:
    """Assert that settings add to their group totals and the groups to all plans, row by row.

    A row whose group totals are suppressed (marker) is not checked: the publisher shows
    its total only. Rows the data guidance says do not add up must fall short (asserted).
    """
    wide = _wide(long)
    members = {
        g: [s.column for s in SETTINGS if s.group == g and s.level == "setting"]
        for g in ("mainstream", "special", "ap", "fe", "elsewhere")
    }
    totals = {"mainstream": "mainstream_total", "special": "special_total", "ap": "ap_pru_total"}
    totals |= {"fe": "fe_total", "elsewhere": "ed_elsewhere"}
    late = pl.col("year") >= OTHER_PLACEMENTS_IN_ELSEWHERE_FROM
    checks: list[tuple[str, pl.Expr]] = []
    for group, total in totals.items():
        parts = members[group]
        expected = _sum(parts)
        if group == "elsewhere":
            expected = expected - pl.when(late).then(0).otherwise(
                pl.col("other_placement_settings").fill_null(0)
            )
        checks.append((total, expected))
    groups = [s.column for s in SETTINGS if s.level == "group"]
    all_expected = _sum(groups) + pl.when(late).then(0).otherwise(
        pl.col("other_placement_settings").fill_null(0)
    )
    checks.append(("ehcplans", all_expected))
    suppressed = pl.col("mainstream_total").is_null() & pl.col("special_total").is_null()
    for column, expected in checks:
        found = wide.with_columns((expected - pl.col(column)).alias("_diff")).filter(
            ~suppressed & pl.col(column).is_not_null() & (pl.col("_diff") != 0)
        )
        exempt = pl.struct("year", "area_code").map_elements(
            lambda k: (k["year"], k["area_code"]) in NOT_ADDING_UP, return_dtype=pl.Boolean
        )
        if column == "ehcplans" and found.height:
            short = found.filter(exempt)
            if short.filter(pl.col("_diff") >= 0).height:
                row = short.filter(pl.col("_diff") >= 0).row(0, named=True)
                raise RawInputError(
                    path,
                    f"{row['area_name']} {row['year']}: the data guidance says its settings do "
                    "not sum to the total (footnote 5), but they now do: the file changed",
                    column=column,
                    row=int(row["raw_row"]),
                )
            found = found.filter(~exempt)
        if found.height:
            row = found.row(0, named=True)
            raise RawInputError(
                path,
                f"{row['area_name']}, January {row['year']}: the settings add to "
                f"{row['_diff'] + row[column]:,.0f}, not the published {row[column]:,.0f}",
                column=column,
                row=int(row["raw_row"]),
            )
