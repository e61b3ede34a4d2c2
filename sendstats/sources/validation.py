"""A pandera schema's checks evaluated in one polars query; pandera reports when one fails.

Why: pandera's polars backend runs every check of every column as its own small query (a
nullable test, each check, and a second query to read its verdict), about 85 collects per
table and 3,000 in a build: a third of the cold build's CPU time (issue 10). Here the same
checks, built by pandera's own check backend from the same schema, are collected together in
one :func:`polars.collect_all`, and only the verdict is kept.

The schema stays the one contract: :func:`passes` only answers "would pandera accept this
frame, unchanged?". It answers ``True`` only when every one of pandera's checks holds, and
``False`` when any fails *or* when the schema uses a feature this module does not evaluate
(coercion, defaults, parsers, regex columns, row dropping, grouped or element-wise checks, a
non-strict column filter, column order). The caller then runs pandera itself, which either
passes (for example a check that only warns) or raises its full report with every column and
row. A wrong ``False`` costs time, never correctness; ``tests/test_validation.py`` checks that
the verdicts agree with pandera on inline frames and on every table of a real build.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import polars as pl
from pandera.api.checks import Check
from pandera.api.polars.container import DataFrameSchema
from pandera.api.polars.model import DataFrameModel
from pandera.api.polars.types import PolarsData
from pandera.constants import CHECK_OUTPUT_KEY

__all__ = ["passes", "prepare"]


def passes(schema: object, df: pl.DataFrame) -> bool:
    """Return True only if pandera's ``schema.validate(df)`` would return ``df`` unchanged.

    ``schema`` is a polars :class:`~pandera.api.polars.container.DataFrameSchema` or a
    :class:`~pandera.api.polars.model.DataFrameModel` class; anything else gives ``False``.
    Any error while building or running the query also gives ``False`` (pandera decides).
    """
    try:
        resolved = _resolve(schema)
        if resolved is None:
            return False
        queries = _queries(resolved, df)
        if queries is None:
            return False
        return all(bool(out.item()) for out in pl.collect_all(queries)) if queries else True
    except Exception:  # an unforeseen schema or frame: let pandera validate and report
        return False


def prepare(schema: object) -> None:
    """Build and keep a model's schema before its first validation (pandera builds it slowly).

    The build calls this on a second thread while it fetches, so that the first validation of
    each model does not pay for it on the build's critical path.
    """
    _resolve(schema)


def _resolve(schema: object) -> DataFrameSchema | None:
    if isinstance(schema, DataFrameSchema):
        return schema
    if isinstance(schema, type) and issubclass(schema, DataFrameModel):
        return _model_schema(schema)
    return None


@cache
def _model_schema(model: type[DataFrameModel]) -> DataFrameSchema:
    return model.to_schema()


def _unsupported(schema: DataFrameSchema) -> bool:
    """Return True if the schema may change the frame or uses checks not evaluated here."""
    return bool(
        schema.coerce
        or schema.add_missing_columns
        or schema.drop_invalid_rows
        or getattr(schema, "parsers", None)
        or schema.dtype is not None
        or schema.strict == "filter"
        or schema.ordered
        or schema.unique_column_names
        or any(
            col.regex
            or col.coerce
            or col.default is not None
            or getattr(col, "parsers", None)
            or col.drop_invalid_rows
            for col in schema.columns.values()
        )
    )


def _queries(schema: DataFrameSchema, df: pl.DataFrame) -> list[pl.LazyFrame] | None:
    """Return one single-cell boolean query per data check, or None to leave it to pandera.

    Schema-level checks (column presence, strictness, dtypes) are answered here without a
    query; a failure among them also returns None, so pandera reports it.
    """
    if _unsupported(schema):
        return None
    present = set(df.columns)
    if schema.strict is True and present - set(schema.columns):
        return None
    lf = df.lazy()
    queries: list[pl.LazyFrame] = []
    for name, col in schema.columns.items():
        if name not in present:
            if col.required:
                return None
            continue
        dtype = df.schema[name]
        if col.dtype is not None and not col.dtype.check(dtype, PolarsData(lf.select(name), name)):
            return None
        if not col.nullable:
            filled = pl.col(name).is_not_null()
            if dtype.is_float():
                filled = filled & pl.col(name).is_not_nan()
            queries.append(lf.select(filled.all()))
        if col.unique:
            queries.append(lf.select(pl.col(name).is_duplicated().any().not_()))
        for check in col.checks:
            query = _check_query(check, lf, name)
            if query is None:
                return None
            queries.append(query)
    unique = _unique_query(schema, lf, present)
    if unique is False:
        return None
    if unique is not True:
        queries.append(unique)
    for check in schema.checks:
        query = _check_query(check, lf, "*")
        if query is None:
            return None
        queries.append(query)
    return queries


def _unique_query(
    schema: DataFrameSchema, lf: pl.LazyFrame, present: set[str]
) -> pl.LazyFrame | bool:
    """Return the query for the schema's ``unique`` column sets, True if none, False if odd."""
    if not schema.unique:
        return True
    sets: Sequence[Sequence[str]] = (
        [schema.unique] if all(isinstance(c, str) for c in schema.unique) else schema.unique
    )
    exprs = []
    for columns in sets:
        if not columns or any(c not in present for c in columns):
            return False
        exprs.append(pl.struct(list(columns)).is_duplicated().any().not_())
    return lf.select(pl.all_horizontal(exprs))


def _check_query(check: Check, lf: pl.LazyFrame, key: str) -> pl.LazyFrame | None:
    """Return a query giving True if ``check`` holds on every row, as pandera judges it.

    The check's output comes from pandera's own polars check backend (``apply``); the null
    handling and the reduction to one verdict are those of its ``postprocess`` and
    ``run_check``. None for a check shape not evaluated here, or a check that already failed.
    """
    if check.element_wise or check.groupby is not None:
        return None
    backend_type = check.get_backend(lf)  # registers pandera's polars checks on first use
    name = getattr(check._check_fn, "__name__", None)
    if name is not None and check.is_builtin_check(name):
        # As Check.__call__ does: a built-in's dispatcher gains its polars implementation
        # when the polars backend registers, after the check was made.
        check._check_fn = check.get_builtin_check_fn(name)
    backend = backend_type(check)
    out: Any = backend.apply(PolarsData(lf, key))  # type: ignore[no-untyped-call]
    if isinstance(out, bool):
        return None if not out else lf.select(pl.lit(True))
    if not isinstance(out, pl.LazyFrame):
        return None
    verdict = pl.col(CHECK_OUTPUT_KEY)
    verdict = verdict | verdict.is_null() if check.ignore_na else verdict.fill_null(False)
    return out.select(verdict.all())
