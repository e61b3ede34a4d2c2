"""The one-query validation path agrees with pandera, and pandera loads without pandas.

:func:`sendstats.sources.validation.passes` may only say "pandera accepts this frame unchanged" when
pandera does; every other answer sends the frame through pandera itself. These tests compare
the two verdicts on inline frames (each failure kind and generated frames) and on every table a
real build validates, and check that :mod:`sendstats.pipeline.lean` leaves the contracts intact.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandera.errors
import pandera.polars as pa
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandera.typing.polars import Series

from sendstats.sources import validation
from sendstats.sources.readers import RawInputError, validate_frame


class Table(pa.DataFrameModel):
    """A small contract using every feature the sendstats schemas use."""

    code: Series[str] = pa.Field(str_matches=r"^\d{3}$")
    level: Series[str] = pa.Field(isin=["National", "Local authority"])
    value: Series[pl.Float64] = pa.Field(nullable=True, ge=0)
    share: Series[pl.Float64] = pa.Field(ge=0, le=100)
    rank: Series[pl.Int32] = pa.Field(nullable=True, ge=1)
    n: Series[pl.Int32] = pa.Field(nullable=True, ge=1)

    class Config:
        """Strict, one row per code and level."""

        strict = True
        unique = ["code", "level"]  # noqa: RUF012

    @pa.dataframe_check
    def rank_within_n(cls, data: pa.PolarsData) -> pl.LazyFrame:  # type: ignore[misc]  # noqa: N805
        """A rank never exceeds the count ranked."""
        return data.lazyframe.select(pl.col("rank").is_null() | (pl.col("rank") <= pl.col("n")))


SCHEMA = pa.DataFrameSchema(
    {
        "id": pa.Column(pl.Int64, unique=True),
        "text": pa.Column(pl.Utf8, pa.Check.str_matches(r"^[a-z]+$"), nullable=True),
        "x": pa.Column(pl.Float64, [pa.Check.gt(0), pa.Check.lt(10)]),
    },
    strict=False,
)


def _good() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "code": ["001", "002", "002"],
            "level": ["National", "National", "Local authority"],
            "value": [1.0, None, 3.5],
            "share": [0.0, 50.0, 100.0],
            "rank": [1, 2, None],
            "n": [2, 2, None],
        },
        schema_overrides={"rank": pl.Int32, "n": pl.Int32},
    )


def _pandera_accepts(schema: Any, df: pl.DataFrame) -> bool:
    try:
        out = schema.validate(df, lazy=True)
    except pandera.errors.SchemaErrors:
        return False
    assert out.equals(df)  # what passes() promises: accepted *unchanged*
    return True


BAD_TABLES = {
    "regex": lambda df: df.with_columns(pl.lit("1x3").alias("code")),
    "isin": lambda df: df.with_columns(pl.lit("Region").alias("level")),
    "ge": lambda df: df.with_columns(pl.lit(-1.0).alias("value")),
    "le": lambda df: df.with_columns(pl.lit(100.5).alias("share")),
    "null in non-nullable": lambda df: df.with_columns(pl.lit(None, pl.Float64).alias("share")),
    "NaN in non-nullable": lambda df: df.with_columns(pl.lit(math.nan).alias("share")),
    "duplicate key": lambda df: df.with_columns(pl.lit("National").alias("level")),
    "dataframe check": lambda df: df.with_columns(pl.lit(5, pl.Int32).alias("rank")),
    "extra column (strict)": lambda df: df.with_columns(pl.lit(1).alias("extra")),
    "missing column": lambda df: df.drop("share"),
    "wrong dtype": lambda df: df.with_columns(pl.col("share").cast(pl.Float32)),
}


def test_a_good_table_passes_in_one_query() -> None:
    df = _good()
    assert _pandera_accepts(Table, df)
    assert validation.passes(Table, df)


@pytest.mark.parametrize("kind", sorted(BAD_TABLES))
def test_every_failure_kind_is_left_to_pandera(kind: str) -> None:
    df = BAD_TABLES[kind](_good())
    assert not _pandera_accepts(Table, df), kind
    assert not validation.passes(Table, df), kind


def test_null_in_a_nullable_checked_column_passes_as_pandera_says() -> None:
    df = pl.DataFrame({"id": [1, 2], "text": ["ab", None], "x": [1.0, 9.5]})
    assert _pandera_accepts(SCHEMA, df)
    assert validation.passes(SCHEMA, df)


def test_features_not_evaluated_here_go_to_pandera() -> None:
    df = pl.DataFrame({"id": [1, 2]})
    coerced = pa.DataFrameSchema({"id": pa.Column(pl.Float64, coerce=True)})
    assert not validation.passes(coerced, df)  # pandera would return a changed frame
    warn_only = pa.DataFrameSchema({"id": pa.Column(pl.Int64, pa.Check.gt(5, raise_warning=True))})
    assert not validation.passes(warn_only, df)
    with pytest.warns(pandera.errors.SchemaWarning):
        assert validate_frame(warn_only, df, Path("x.csv"), stage="raw").equals(df)
    assert not validation.passes("not a schema", df)


def test_a_refused_frame_is_reported_by_pandera_with_column_and_row() -> None:
    df = pl.DataFrame({"id": [1, 2, 3], "text": ["ab", "c", "D"], "x": [1.0, 2.0, 3.0]})
    with pytest.raises(RawInputError) as err:
        validate_frame(SCHEMA, df, Path("file.csv"), stage="raw")
    assert err.value.column == "text"
    assert err.value.row == 3
    assert "file.csv" in str(err.value)


@settings(max_examples=150, deadline=None)
@given(
    ids=st.lists(st.integers(0, 4), min_size=0, max_size=6),
    texts=st.lists(st.sampled_from(["ab", "Z", "", None]), min_size=6, max_size=6),
    xs=st.lists(
        st.sampled_from([0.5, 0.0, 9.99, 10.0, -1.0, math.nan, None]), min_size=6, max_size=6
    ),
)
def test_verdicts_agree_with_pandera_on_generated_frames(
    ids: list[int], texts: list[str | None], xs: list[float | None]
) -> None:
    n = len(ids)
    df = pl.DataFrame(
        {"id": ids, "text": texts[:n], "x": xs[:n]},
        schema={"id": pl.Int64, "text": pl.Utf8, "x": pl.Float64},
    )
    assert validation.passes(SCHEMA, df) == _pandera_accepts(SCHEMA, df)


def test_every_table_of_a_real_build_passes_in_one_query(
    raw_archive: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each checkpoint of a whole build: the fast verdict is pandera's, and it is a pass."""
    from sendstats.pipeline import build

    seen: list[tuple[str, bool, bool]] = []
    fast = validation.passes

    def both(schema: Any, df: pl.DataFrame) -> bool:
        verdict = fast(schema, df)
        name = getattr(validation._resolve(schema), "name", repr(schema))
        seen.append((str(name), verdict, _pandera_accepts(schema, df)))
        return verdict

    monkeypatch.setattr(validation, "passes", both)
    monkeypatch.setenv("SENDSTATS_ARCHIVE", str(raw_archive))
    monkeypatch.setenv("SENDSTATS_WORKERS", "1")  # every checkpoint in this process
    build.build(offline=True, progress=False)
    assert len(seen) >= 30
    assert [s for s in seen if not (s[1] and s[2])] == []


LEAN_SCRIPT = """
import sys
from pathlib import Path
from sendstats.pipeline import lean
lean.install()
import pandera.polars as pa
import polars as pl
from sendstats.sources.readers import RawInputError, validate_frame
import sendstats.sources.dfe_sen2, sendstats.metrics.schema
schema = pa.DataFrameSchema({'code': pa.Column(pl.Utf8, pa.Check.str_matches(r'^\\d{3}$'))})
validate_frame(schema, pl.DataFrame({'code': ['001', '002']}), Path('f.csv'), stage='raw')
try:
    validate_frame(schema, pl.DataFrame({'code': ['001', 'x']}), Path('f.csv'), stage='raw')
except RawInputError as exc:
    loaded = sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'numpy', 'hypothesis'})
    print(loaded, exc.column, exc.row)
import pandas
print(pandas.DataFrame({'a': [1]}).shape)
"""


def test_pandera_loads_without_pandas_under_the_command_line_hook() -> None:
    out = subprocess.run(
        [sys.executable, "-c", LEAN_SCRIPT], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == ["[] code 2", "(1, 1)"]
