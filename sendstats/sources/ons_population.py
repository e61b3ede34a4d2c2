"""Population denominators: ONS mid-year estimates by single year of age, per upper-tier LA.

Reads sheet MYE2 (persons) of the ONS "Population estimates for the UK, England and Wales,
Scotland and Northern Ireland" workbooks and, for mid-2023, the England and Wales edition (source
``ons_population``; mid-2017 to mid-2023 are pinned, mid-2021 and mid-2022 on the re-saved copies
held: see the declaration). The sheet name and header row differ by release; they are kept in
``sendstats/geography/maps/ons_mye_layouts.csv`` (``release``, ``mid_year``, ``file``, ``sheet``,
``header_row`` 0-based, ``geography_date`` and ``geography_label``: the LA boundaries the
release uses). Upper-tier rows (unitary authorities, counties, metropolitan districts, London
boroughs) are matched to the LA crosswalk by GSS code; ages are 0 to 89 and 90 (= 90 and over).
The .xls workbooks are read with python-calamine (the Rust calamine engine), not xlrd: about
0.01 s a workbook against xlrd's 0.1 s plus its Python loop, for the cold build's speed target
(issue 10); its rows equal xlrd's ``row_values`` cell for cell on every held workbook.

Derived rates (:func:`add_rate_per_10k`) carry the label of the population vintage used, and
use the mid-year estimate before a January count (``201920`` = January 2020 -> mid-2019).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal, cast

import pandera.polars as pa
import polars as pl
from pandera.typing.polars import Series
from python_calamine import CalamineWorkbook

from sendstats.geography import all_las, get_la, harmonise_to_vintage, list_las, match_codes
from sendstats.geography.crosswalk import _read_map
from sendstats.sources.readers import validate_frame

SOURCE_ID = "ons_population"
AgeBand = Literal["0_25", "2_18", "5_15", "18_64"]
AGE_BANDS: dict[str, tuple[int, int]] = {
    "0_25": (0, 25),
    "2_18": (2, 18),
    "5_15": (5, 15),
    "18_64": (18, 64),
}
UPPER_TIER = frozenset({"Unitary Authority", "County", "Metropolitan District", "London Borough"})
ENGLAND = "E92000001"
_AREA_CODE = re.compile(r"^[EKNSW]\d{8}$")
BAND_COLUMNS = (
    "la_code_dfe",
    "la_code",
    "la_name",
    "mid_year",
    "age_band",
    "population",
    "population_vintage",
    "population_release",
    "population_file",
    "population_sha256",
)
PeriodType = Literal["academic_year", "calendar_year", "financial_year"]


class PopulationFileError(ValueError):
    """An ONS workbook does not have the layout or totals sendstats expects."""


class PopulationBand(pa.DataFrameModel):
    """Population of one age band per LA and mid-year: the denominator of derived rates."""

    la_code_dfe: Series[str] = pa.Field(str_matches=r"^\d{3}$", description="3-digit DfE code.")
    la_code: Series[str] = pa.Field(str_matches=r"^E\d{8}$", description="Stable GSS join code.")
    la_name: Series[str] = pa.Field(description="Canonical LA name (DfE EES spelling).")
    mid_year: Series[pl.Int64] = pa.Field(ge=2011, description="30 June of this year.")
    age_band: Series[str] = pa.Field(isin=["0_25", "2_18", "5_15", "18_64"])
    population: Series[pl.Int64] = pa.Field(gt=0, description="Residents in the band.")
    population_vintage: Series[str] = pa.Field(description="ONS release and boundaries used.")
    population_release: Series[str] = pa.Field(description="Release label of the ONS workbook.")
    population_file: Series[str] = pa.Field(description="File name of the ONS workbook read.")
    population_sha256: Series[str] = pa.Field(
        str_matches=r"^[0-9a-f]{64}$", description="sha256 of the workbook's bytes read."
    )

    class Config:
        """Strict: only these columns; one row per LA, mid-year and band."""

        strict = True
        unique = ["la_code_dfe", "mid_year", "age_band"]  # noqa: RUF012


@dataclass(frozen=True)
class MyeLayout:
    """Where the persons table sits in one release's workbook."""

    release: str
    mid_year: int
    file: str
    sheet: str
    header_row: int
    geography_date: dt.date
    geography_label: str

    @property
    def vintage(self) -> str:
        """Return the label written on every derived figure, naming the estimates used."""
        return f"ONS mid-{self.mid_year} population estimates ({self.geography_label})"


@cache
def mye_layouts() -> dict[int, MyeLayout]:
    """Return the layout of each held release, keyed by mid-year."""
    out = {}
    for row in _read_map("ons_mye_layouts.csv"):
        layout = MyeLayout(
            release=row["release"],
            mid_year=int(row["mid_year"]),
            file=row["file"],
            sheet=row["sheet"],
            header_row=int(row["header_row"]),
            geography_date=dt.date.fromisoformat(row["geography_date"]),
            geography_label=row["geography_label"],
        )
        out[layout.mid_year] = layout
    return out


def _layout(mid_year: int) -> MyeLayout:
    layouts = mye_layouts()
    if mid_year not in layouts:
        held = ", ".join(str(y) for y in sorted(layouts))
        raise KeyError(f"no ONS mid-year estimate held for mid-{mid_year} (held: {held})")
    return layouts[mid_year]


#: The workbooks this process reads, (release, file) -> path: set by :func:`tidy` from the
#: paths the pipeline resolved (or by :func:`use_workbooks`). Sources never fetch.
_RESOLVED: dict[tuple[str, str], Path] = {}


#: The age bands the tidy table holds: those the metric steps divide by (EHC plans and appeals
#: per 10,000 aged 0-25; high-needs per head aged 2-18). Other bands are computed on request.
TIDY_BANDS: tuple[AgeBand, ...] = ("0_25", "2_18")


def required_files() -> list[tuple[str, str]]:
    """Return the (release, file) of every ONS workbook the population table reads."""
    return [(layout.release, layout.file) for layout in mye_layouts().values()]


def use_workbooks(paths: dict[tuple[str, str], Path]) -> None:
    """Read the ONS workbooks from ``paths`` ((release, file) -> local path, already verified)."""
    if any(_RESOLVED.get(k) != v for k, v in paths.items()):
        read_mye.cache_clear()
    _RESOLVED.update(paths)


def tidy(paths: dict[tuple[str, str], tuple[Path, str]]) -> pl.DataFrame:
    """Return the population of each of :data:`TIDY_BANDS` per LA and mid-year (the tidy table).

    Predecessor LAs that are the exact sum of their successors are included (see
    :func:`population_by_age_band`), so that a metric can divide on the geography of its year.
    """
    use_workbooks({key: path for key, (path, _sha) in paths.items()})
    # The build checks the table against PopulationBand once (its step's schema).
    frames = [_band_table(band, None, include_predecessors=True) for band in TIDY_BANDS]
    return pl.concat(frames, how="vertical").sort("age_band", "mid_year", "la_code_dfe")


def _raw_path(source_id: str, release: str, name: str) -> Path:
    """Return the local path of a workbook the pipeline resolved for this process."""
    if source_id == SOURCE_ID and (release, name) in _RESOLVED:
        return _RESOLVED[(release, name)]
    raise PopulationFileError(
        f"{source_id}/{release}/{name}: workbook not resolved; the build resolves the pinned "
        "files (`sendstats build`), or call use_workbooks() with their paths"
    )


@cache
def workbook_provenance(mid_year: int) -> tuple[str, str, str]:
    """Return (release, file name, sha256 of the bytes read) of one mid-year's workbook.

    Every rate per head cites these in its row (issue 17): the sha256 is of the file actually
    read, which the fetch has checked against the declaration's pin.
    """
    layout = _layout(mid_year)
    path = _raw_path(SOURCE_ID, layout.release, layout.file)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return layout.release, path.name, digest


def latest_mid_year() -> int:
    """Return the newest mid-year held (the denominator of value years beyond it)."""
    return max(mye_layouts())


def _check_header(header: list[object], where: str) -> None:
    first = [str(h).strip() for h in header[:4]]
    if (
        first[:2] != ["Code", "Name"]
        or not first[2].startswith("Geography")
        or first[3] != "All ages"
    ):
        raise PopulationFileError(f"{where}: header {first} is not Code, Name, Geography, All ages")
    ages = [str(h).strip().removesuffix(".0") for h in header[4:95]]
    if ages[:90] != [str(a) for a in range(90)] or ages[90] not in {"90", "90+"}:
        raise PopulationFileError(f"{where}: age columns are not 0..89, 90+ (got {ages[:3]}...)")


@cache
def read_mye(mid_year: int) -> pl.DataFrame:
    """Return every row of the persons sheet, long by age: code, name, geography, age, population.

    Raises:
        PopulationFileError: wrong sheet or header, non-numeric cells, or a row whose single
            ages do not add up to its ``All ages`` value (named by file, sheet and row).

    """
    layout = _layout(mid_year)
    path = _raw_path(SOURCE_ID, layout.release, layout.file)
    try:
        book = CalamineWorkbook.from_path(path)
    except Exception as exc:  # calamine raises its own, OS and value errors alike
        raise PopulationFileError(f"{path}: cannot open the .xls workbook: {exc}") from exc
    if layout.sheet not in book.sheet_names:
        raise PopulationFileError(f"{path.name}: no sheet {layout.sheet!r} ({book.sheet_names})")
    try:
        sheet = _sheet_rows(book, layout.sheet)
    except Exception as exc:  # a damaged sheet stream: calamine's own or value errors
        raise PopulationFileError(f"{path}: cannot open the .xls workbook: {exc}") from exc
    where = f"{path.name}, sheet {layout.sheet!r}"
    header = sheet[layout.header_row] if layout.header_row < len(sheet) else []
    _check_header(header, f"{where}, row {layout.header_row + 1}")
    labels = [str(h).strip().removesuffix(".0") for h in header]
    codes: list[str] = []
    names: list[str] = []
    geographies: list[str] = []
    ages: list[list[int]] = []  # each area's population at ages 0 to 90
    seen: dict[str, int] = {}
    for i in range(layout.header_row + 1, len(sheet)):
        row = sheet[i]
        code = str(row[0]).strip()
        if not _AREA_CODE.match(code):
            continue  # blank lines and footnotes below the table
        at = f"{where}, row {i + 1}"
        if code in seen:
            raise PopulationFileError(
                f"{at}, column 'Code': {code} listed twice (row {seen[code]})"
            )
        seen[code] = i + 1
        values = _plain_counts(row[3:95]) or [
            _count(row[j], f"{at}, column {labels[j]!r} ({code})")
            for j in range(3, min(95, len(row)))
        ]
        if sum(values[1:]) != values[0]:
            total = sum(values[1:])
            raise PopulationFileError(
                f"{where}, row {i + 1} ({code}): ages sum to {total}, All ages {values[0]}"
            )
        geo, name = str(row[2]).strip(), str(row[1]).strip()
        if code.startswith("E") and geo in UPPER_TIER and not match_codes(code):
            raise PopulationFileError(
                f"{at}, column 'Code': upper-tier code {code!r} ({name}) is not an LA of the "
                "crosswalk"
            )
        codes.append(code)
        names.append(name)
        geographies.append(geo)
        ages.append(values[1:])
    # Long by age in polars: one row per area and age, areas in sheet order, ages 0 to 90.
    return (
        pl.DataFrame(
            {"code": codes, "name": names, "geography": geographies, "population": ages},
            schema={
                "code": pl.Utf8,
                "name": pl.Utf8,
                "geography": pl.Utf8,
                "population": pl.List(pl.Int64),
            },
        )
        .with_columns(age=pl.int_ranges(0, pl.col("population").list.len(), dtype=pl.Int64))
        .explode("age", "population")
        .drop_nulls("age")  # a row with no age cells (none in the held files) adds no row
        .select("code", "name", "geography", "age", "population")
    )


def _sheet_rows(book: CalamineWorkbook, name: str) -> list[list[object]]:
    """Return every row of a sheet from cell A1, as xlrd's ``row_values`` gave them.

    ``skip_empty_area=False`` keeps blank rows and columns above and left of the table, so
    row ``i`` is the sheet's row ``i + 1`` (the layouts' ``header_row`` counts from A1); every
    row has the sheet's width, empty cells are ``""``, as with xlrd.
    """
    return cast("list[list[object]]", book.get_sheet_by_name(name).to_python(skip_empty_area=False))


_NUMBER_TYPES = frozenset({float, int})


def _plain_counts(cells: list[object]) -> list[int] | None:
    """Return a row's cells as :func:`_count` would when all are numbers >= 0, else ``None``.

    The common case costs no per-cell message (building one per cell was half the read);
    ``None`` sends the row through :func:`_count`, which names the offending cell.
    """
    # Built-in calls over the whole row (no Python loop per cell): exactly float or int (not
    # bool, not text), none below zero, each rounded as _count rounds.
    if not set(map(type, cells)) <= _NUMBER_TYPES:
        return None
    numbers = cast("list[float]", cells)
    if min(numbers, default=0) < 0:
        return None
    return list(map(round, numbers))


def _count(value: object, where: str) -> int:
    """Return a cell as a whole number of people, refusing text and negative numbers.

    calamine gives a number stored as an integer (an RK record) as ``int``, xlrd gave every
    number as ``float``: it is made a float first, so a message shows ``-5.0`` as before.
    """
    if type(value) is int:
        value = float(value)
    try:
        number = float(str(value))
    except ValueError:
        raise PopulationFileError(f"{where}: not a number: {value!r}") from None
    if number < 0:
        raise PopulationFileError(f"{where}: a population is negative: {value!r}")
    return round(number)


def _dfe_code(gss: str, where: str) -> str:
    codes = match_codes(gss)
    if len(codes) != 1:
        raise PopulationFileError(f"{where}: upper-tier code {gss!r} matches LAs {sorted(codes)}")
    return next(iter(codes))


@cache
def la_population(mid_year: int) -> pl.DataFrame:
    """Return one row per upper-tier LA and single year of age for one mid-year.

    Columns: ``la_code_dfe``, ``la_code`` (stable join code), ``la_name``, ``mid_year``,
    ``age`` (90 = 90 and over), ``population``, ``population_vintage``. The LAs are checked to
    be exactly those of the release's boundaries (152 for mid-2017, 151, 151, 152 for mid-2020).
    """
    layout = _layout(mid_year)
    rows = read_mye(mid_year).filter(
        pl.col("code").str.starts_with("E"), pl.col("geography").is_in(UPPER_TIER)
    )
    where = f"ONS mid-{mid_year} ({layout.release})"
    gss = sorted(set(rows["code"].to_list()))
    dfe = {g: _dfe_code(g, where) for g in gss}
    expected = {la.la_code_dfe for la in list_las(layout.geography_date)}
    if set(dfe.values()) != expected:
        extra = sorted(set(dfe.values()) - expected)
        missing = sorted(expected - set(dfe.values()))
        raise PopulationFileError(
            f"{where}: LAs differ from the crosswalk: extra {extra}, missing {missing}"
        )
    las = {code: get_la(code) for code in dfe.values()}
    lookup = pl.DataFrame(
        {
            "code": gss,
            "la_code_dfe": [dfe[g] for g in gss],
            "la_code": [las[dfe[g]].la_code for g in gss],
            "la_name": [las[dfe[g]].la_name for g in gss],
        }
    )
    return (
        rows.join(lookup, on="code", how="inner")
        .with_columns(
            mid_year=pl.lit(mid_year, pl.Int64), population_vintage=pl.lit(layout.vintage)
        )
        .select(
            "la_code_dfe",
            "la_code",
            "la_name",
            "mid_year",
            "age",
            "population",
            "population_vintage",
        )
        .sort("la_code_dfe", "age")
    )


def england_population(mid_year: int) -> pl.DataFrame:
    """Return ONS's own England row by single year of age: ``age``, ``population``."""
    return read_mye(mid_year).filter(pl.col("code") == ENGLAND).select("age", "population")


def population_by_age_band(
    band: AgeBand, year: int | None = None, *, include_predecessors: bool = False
) -> pl.DataFrame:
    """Return the population of one age band per LA, for one mid-year or every one held.

    Columns: ``la_code_dfe``, ``la_code``, ``la_name``, ``mid_year``, ``age_band`` (e.g.
    ``0_25``), ``population``, ``population_vintage`` and the workbook's provenance
    (``population_release``, ``population_file``, ``population_sha256``). With
    ``include_predecessors`` an LA abolished by a split is added where the estimate holds all
    its successors (mid-2020: Northamptonshire = North + West Northamptonshire; mid-2022:
    Cumbria = Cumberland + Westmorland and Furness; exact because counts add), its vintage
    label saying so; merged LAs (Bournemouth, Poole) cannot be rebuilt and are not added.
    """
    out = _band_table(band, year, include_predecessors=include_predecessors)
    return validate_frame(PopulationBand, out, Path(f"population aged {band}"), stage="derived")


def _band_table(band: AgeBand, year: int | None, *, include_predecessors: bool) -> pl.DataFrame:
    """Return :func:`population_by_age_band`'s table, not yet checked against its schema."""
    if band not in AGE_BANDS:
        raise ValueError(f"unknown age band {band!r}; bands: {', '.join(AGE_BANDS)}")
    low, high = AGE_BANDS[band]
    years = [year] if year is not None else sorted(mye_layouts())
    frames = []
    for y in years:
        table = (
            la_population(y)
            .filter(pl.col("age").is_between(low, high))
            .group_by("la_code_dfe", "la_code", "la_name", "mid_year", "population_vintage")
            .agg(pl.col("population").sum())
        )
        frames.append(_with_predecessors(table) if include_predecessors else table)
    prov = [(y, *workbook_provenance(y)) for y in years]
    provenance = pl.DataFrame(
        prov,
        schema={
            "mid_year": pl.Int64,
            "population_release": pl.Utf8,
            "population_file": pl.Utf8,
            "population_sha256": pl.Utf8,
        },
        orient="row",
    )
    return (
        pl.concat(frames, how="diagonal_relaxed")
        .join(provenance, on="mid_year", how="left")
        .with_columns(age_band=pl.lit(band))
        .select(*BAND_COLUMNS)
        .sort("mid_year", "la_code_dfe")
    )


def _with_predecessors(table: pl.DataFrame) -> pl.DataFrame:
    """Add abolished LAs that are the exact sum of LAs in ``table`` (splits reversed)."""
    present = set(table["la_code_dfe"].to_list())
    abolished = [la for la in all_las() if la.la_code_dfe not in present and la.valid_to]
    # One harmonisation per abolition date serves every LA abolished on it.
    on_vintage = {
        vintage: harmonise_to_vintage(
            table,
            value_cols=["population"],
            additive=True,
            vintage=vintage,
            period_col="mid_year",
        ).filter(pl.col("harmonisation") == "aggregated")
        for vintage in sorted({la.valid_to for la in abolished if la.valid_to})
    }
    added = []
    for la in abolished:
        assert la.valid_to is not None
        old = on_vintage[la.valid_to].filter(pl.col("la_code_dfe") == la.la_code_dfe)
        if old.height == 1:
            vintage = table["population_vintage"][0]
            note = (
                f"{vintage}; {la.la_name} = sum of {old['harmonised_from'][0].replace(';', ' + ')}"
            )
            added.append(
                old.select(
                    "la_code_dfe", "la_code", "la_name", "mid_year", "population"
                ).with_columns(la_code=pl.lit(la.la_code), population_vintage=pl.lit(note))
            )
    return pl.concat([table, *added], how="diagonal_relaxed") if added else table


def mid_year_for_period(period: str, period_type: PeriodType) -> int:
    """Return the mid-year estimate a period's rate uses.

    January counts (academic year ``201920`` = January 2020) use the mid-year before (2019);
    a 4-digit academic period is the census year itself (the 2022 release's ``2022`` =
    January 2022 -> 2021). Calendar years use their own mid-year; financial years ``201920``
    / ``2019-20`` use the mid-year of their first calendar year.
    """
    digits = period.replace("-", "").replace("/", "").strip()
    if not digits.isdigit() or len(digits) not in {4, 6}:
        raise ValueError(f"cannot read period {period!r} as {period_type}")
    if len(digits) == 6:
        return int(digits[:4])
    return int(digits) - 1 if period_type == "academic_year" else int(digits)


def add_rate_per_10k(
    df: pl.DataFrame,
    *,
    count_col: str,
    band: AgeBand,
    period_type: PeriodType,
    period_col: str = "time_period",
    dfe_col: str = "la_code_dfe",
    out_col: str | None = None,
) -> pl.DataFrame:
    """Add a rate per 10,000 residents of an age band, labelled with the population used.

    Adds ``<out_col>`` (default ``<count_col>_per_10k_<band>``), ``population_<band>``,
    ``population_mid_year`` and ``population_vintage``. Rows whose mid-year is not held, or
    whose LA is not on that estimate's boundaries and cannot be summed from it exactly (e.g.
    Bournemouth in January 2019: mid-2018 is on April 2019 boundaries, with BCP) get null rate
    and population, never a guess. Northamptonshire in January 2021 uses North + West
    Northamptonshire of mid-2020 (April 2021 boundaries), summed and labelled.
    """
    out_col = out_col or f"{count_col}_per_10k_{band}"
    periods = sorted(set(df[period_col].cast(pl.Utf8).to_list()))
    mid = {p: mid_year_for_period(p, period_type) for p in periods}
    held = [y for y in sorted(set(mid.values())) if y in mye_layouts()]
    pop = (
        population_by_age_band(band, include_predecessors=True).filter(
            pl.col("mid_year").is_in(held)
        )
        if held
        else pl.DataFrame(
            schema={
                "la_code_dfe": pl.Utf8,
                "mid_year": pl.Int64,
                "population": pl.Int64,
                "population_vintage": pl.Utf8,
            }
        )
    )
    pop = pop.select(
        pl.col("la_code_dfe").alias(dfe_col),
        pl.col("mid_year").alias("population_mid_year"),
        pl.col("population").alias(f"population_{band}"),
        "population_vintage",
    )
    period_map = pl.DataFrame(
        {"__p": periods, "population_mid_year": [mid[p] for p in periods]},
        schema={"__p": pl.Utf8, "population_mid_year": pl.Int64},
    )
    return (
        df.with_columns(pl.col(period_col).cast(pl.Utf8).alias("__p"))
        .join(period_map, on="__p", how="left")
        .join(pop, on=[dfe_col, "population_mid_year"], how="left")
        .with_columns((pl.col(count_col) / pl.col(f"population_{band}") * 10_000).alias(out_col))
        .drop("__p")
    )
