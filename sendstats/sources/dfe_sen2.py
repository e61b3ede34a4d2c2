"""DfE "Education, health and care plans" (SEN2 data collection), releases 2022, 2023 and 2025.

Reads the EES CSVs declared in ``data_sources/dfe_sen2.yaml`` into one long tidy table,
``dfe_sen2__ehcp``: one row per release, file, measure, year and area (England, region, LA),
with the value, the publisher's marker as a status, and the raw row it came from. Every
release is kept, so a figure can be rebuilt as first published and revisions can be diffed;
the metric step chooses which release serves each year.

Quirks handled here (see the data guidance of each release):
- January stocks are coded as academic years (``201819`` = January 2019) in the 2025 release,
  but the 2022 release's ``sen2_age_caseload.csv`` codes the census year itself (``2022``).
- Before 2019 the caseload counts statements plus EHC plans (``Total_all`` in the 2022 file).
- ``sen2_mi.csv`` (2023 release) is the legacy aggregate return, 2014 to 2022; the 2025 release's
  person-level flows start in 2019 and revise the overlapping years.
"""

from __future__ import annotations

from pathlib import Path

import pandera.polars as pa
import polars as pl
from pandera.typing.polars import Series

from sendstats.core.vocab import SEN2_SOURCE_ID, SEN2_TABLE
from sendstats.sources.checks import TotalDiscrepancy
from sendstats.sources.dfe_sen2_tables import Sen2TableTidy
from sendstats.sources.ees import EesFileSpec, KnownError, read_tidy
from sendstats.sources.layouts import LayoutError, layout_path, load_layout

SOURCE_ID = SEN2_SOURCE_ID
TABLE = SEN2_TABLE


def _file_specs() -> tuple[EesFileSpec, ...]:
    """Return how to read each file, from the layout beside this module (layouts/dfe_sen2.yaml).

    Raises:
        LayoutError: a file entry names an unknown percentage group or discrepancy list.

    """
    layout = load_layout(SOURCE_ID)
    where = layout_path(SOURCE_ID)
    groups = {
        name: {pct: (num, den) for pct, (num, den) in table.items()}
        for name, table in layout["percentages"].items()
    }
    discrepancies = {
        name: tuple(
            TotalDiscrepancy(
                r["measure"], int(r["year"]), r["area_code"], float(r["difference"]), d["reason"]
            )
            for r in d["rows"]
        )
        for name, d in layout["total_discrepancies"].items()
    }
    specs = []
    for entry in layout["files"]:
        try:
            percentages = {k: v for g in entry.get("percentages", []) for k, v in groups[g].items()}
            known = (
                discrepancies[entry["total_discrepancies"]]
                if "total_discrepancies" in entry
                else ()
            )
        except KeyError as exc:
            raise LayoutError(f"{where}: file {entry.get('name')!r} names unknown {exc}") from exc
        specs.append(
            EesFileSpec(
                release=str(entry["release"]),
                name=entry["name"],
                period_type=entry["period_type"],
                period_coding=entry.get("period_coding", "ees"),
                filters=entry.get("filters", {}),
                measures=entry["measures"],
                percentages=percentages,
                total_discrepancies=known,
                known_errors=tuple(KnownError(**k) for k in entry.get("known_errors", [])),
            )
        )
    return tuple(specs)


#: Per-file read specs: the "all" rows and the measures kept, with sendstats names.
FILE_SPECS: tuple[EesFileSpec, ...] = _file_specs()

ALLOWED_STATUS = ("ok", "x", "z", "c", "low", "u", ":", "N/A", "err")


class Sen2Tidy(Sen2TableTidy):
    """Tidy EHC plan statistics: one row per release, file, measure, year and area.

    The further SEN2 tables' model, with one more status: ``err``, a value known to carry a
    publisher's error (see the layout's ``known_errors``), kept out of sums and metrics.
    """

    status: Series[str] = pa.Field(
        isin=list(ALLOWED_STATUS),
        description="'ok', the publisher's marker (x, z ...) or 'err' (known publisher error).",
    )


TIDY_COLUMNS = list(Sen2Tidy.to_schema().columns)


def tidy(paths: dict[tuple[str, str], tuple[Path, str]]) -> pl.DataFrame:
    """Read every declared SEN2 file into one long table (the build checks its schema).

    Args:
        paths: (release, file name) -> (local path, sha256) of each pinned raw file.

    Raises:
        RawInputError: a raw file drifted from its layout.

    """
    return combine(tidy_files(paths))


def tidy_files(
    paths: dict[tuple[str, str], tuple[Path, str]],
) -> dict[tuple[str, str], pl.DataFrame]:
    """Read the declared SEN2 files among ``paths`` into long rows, one frame per file.

    The build may read some files in its worker process and the rest in its own, then
    :func:`combine` them: the table is the same whichever process read which file.
    """
    frames = {}
    for spec in FILE_SPECS:
        if (spec.release, spec.name) in paths:
            path, sha = paths[(spec.release, spec.name)]
            frames[(spec.release, spec.name)] = read_tidy(
                path, spec, source_id=SOURCE_ID, file_sha256=sha
            )
    return frames


def combine(frames: dict[tuple[str, str], pl.DataFrame]) -> pl.DataFrame:
    """Return the SEN2 tidy table from every file's frame (in declaration order)."""
    ordered = [frames[(spec.release, spec.name)] for spec in FILE_SPECS]
    out = pl.concat(ordered, how="vertical").select(TIDY_COLUMNS)
    out = out.sort("measure", "release", "year", "geographic_level", "area_code")
    return out


def required_files() -> list[tuple[str, str]]:
    """Return the (release, file name) pairs :func:`tidy` reads."""
    return [(spec.release, spec.name) for spec in FILE_SPECS]
