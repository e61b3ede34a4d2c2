"""Tests of the interval and outlier functions in sendstats.metrics.stats."""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sendstats.metrics import stats


def test_normal_quantiles_match_their_tail_areas() -> None:
    assert math.erfc(stats.Z_95 / math.sqrt(2)) / 2 == pytest.approx(0.025, abs=1e-12)
    assert math.erfc(stats.Z_998 / math.sqrt(2)) / 2 == pytest.approx(0.001, abs=1e-12)


def test_wilson_hand_worked_8_of_10() -> None:
    low, high = stats.wilson_interval(8, 10, stats.Z_95)
    assert low == pytest.approx(0.4902, abs=5e-5)
    assert high == pytest.approx(0.9433, abs=5e-5)


def test_wilson_zero_and_all_successes_stay_in_unit_interval() -> None:
    low0, high0 = stats.wilson_interval(0, 12)
    assert low0 == 0.0
    assert high0 == pytest.approx(0.2425, abs=5e-5)
    low, high = stats.wilson_interval(12, 12)
    assert high == 1.0
    assert low == pytest.approx(1 - 0.2425, abs=5e-5)


def test_wilson_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError, match="denominator"):
        stats.wilson_interval(1, 0)
    with pytest.raises(ValueError, match="numerator"):
        stats.wilson_interval(11, 10)


def test_wider_at_998_than_at_95() -> None:
    low95, high95 = stats.wilson_interval(30, 400, stats.Z_95)
    low998, high998 = stats.wilson_interval(30, 400, stats.Z_998)
    assert low998 < low95 < high95 < high998


@given(n=st.integers(min_value=1, max_value=100_000), frac=st.floats(min_value=0, max_value=1))
def test_wilson_contains_estimate_within_unit_interval(n: int, frac: float) -> None:
    x = round(frac * n)
    low, high = stats.wilson_interval(x, n)
    assert 0.0 <= low <= x / n + 1e-12
    assert x / n - 1e-12 <= high <= 1.0


@given(
    pairs=st.lists(
        st.tuples(st.integers(0, 5_000), st.integers(1, 5_000)).map(
            lambda t: (min(t[0], t[1]), t[1])
        ),
        min_size=1,
        max_size=30,
    )
)
def test_wilson_expressions_equal_scalar_function(pairs: list[tuple[int, int]]) -> None:
    df = pl.DataFrame({"x": [p[0] for p in pairs], "n": [p[1] for p in pairs]})
    low, high = stats.wilson_exprs(pl.col("x"), pl.col("n"), stats.Z_998)
    got = df.select(low.alias("low"), high.alias("high"))
    for (x, n), row in zip(pairs, got.iter_rows(), strict=True):
        want = stats.wilson_interval(x, n, stats.Z_998)
        assert row[0] == pytest.approx(want[0], abs=1e-12)
        assert row[1] == pytest.approx(want[1], abs=1e-12)


def test_wilson_expressions_are_null_for_suppressed_counts() -> None:
    df = pl.DataFrame({"x": [None, 3.0, 1.0], "n": [10.0, None, 0.0]})
    low, high = stats.wilson_exprs(pl.col("x"), pl.col("n"))
    got = df.select(low.alias("low"), high.alias("high"))
    assert got.null_count().row(0) == (3, 3)


def test_byar_hand_worked_count_10() -> None:
    # Byar: 10 (1 - 1/90 - 1.96/(3 sqrt 10))^3 and 11 (1 - 1/99 + 1.96/(3 sqrt 11))^3.
    low, high = stats.byar_interval(10)
    assert low == pytest.approx(4.787, abs=1e-3)
    assert high == pytest.approx(18.39, abs=5e-3)


def test_exact_poisson_hand_worked_count_10_and_0() -> None:
    low, high = stats.exact_poisson_interval(10)
    assert low == pytest.approx(4.795, abs=1e-3)
    assert high == pytest.approx(18.39, abs=5e-3)
    # For 0 the upper limit is -ln(0.025).
    low0, high0 = stats.exact_poisson_interval(0)
    assert low0 == 0.0
    assert high0 == pytest.approx(-math.log(0.025), abs=1e-6)


@given(count=st.integers(min_value=10, max_value=2_000))
def test_byar_close_to_exact_from_10(count: int) -> None:
    b_low, b_high = stats.byar_interval(count)
    e_low, e_high = stats.exact_poisson_interval(count)
    assert b_low == pytest.approx(e_low, rel=2e-3)
    assert b_high == pytest.approx(e_high, rel=2e-3)
    assert b_low <= count <= b_high


def test_byar_expressions_equal_scalar_function() -> None:
    counts = [0, 1, 10, 250, None]
    low, high = stats.byar_exprs(pl.col("c"), stats.Z_998)
    got = pl.DataFrame({"c": counts}).select(low.alias("low"), high.alias("high"))
    for c, row in zip(counts, got.iter_rows(), strict=True):
        if c is None:
            assert row == (None, None)
            continue
        want = stats.byar_interval(c, stats.Z_998)
        assert row[0] == pytest.approx(want[0], abs=1e-9)
        assert row[1] == pytest.approx(want[1], abs=1e-9)


def test_byar_and_exact_reject_negative_counts() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        stats.byar_interval(-1)
    with pytest.raises(ValueError, match="non-negative"):
        stats.exact_poisson_interval(-1)


def _flags(values: list[float | None], group: list[str] | None = None) -> list[bool]:
    df = pl.DataFrame({"v": values, "g": group or ["a"] * len(values)})
    return df.select(stats.outlier_flag_expr(pl.col("v"), over=["g"])).to_series().to_list()


def test_outlier_rule_flags_only_the_far_value() -> None:
    # Median 5, MAD 1 -> robust z of 26.8 is (26.8 - 5) / 1.4826 = 14.7.
    values: list[float | None] = [3.0, 4.0, 4.5, 5.0, 5.0, 5.5, 6.0, 7.0, 26.8, None]
    assert _flags(values) == [False] * 8 + [True, False]


def test_outlier_rule_is_stable_under_order_scale_and_groups() -> None:
    values: list[float | None] = [3.0, 4.0, 4.5, 5.0, 5.0, 5.5, 6.0, 7.0, 26.8, 0.1]
    base = _flags(values)
    assert _flags(values[::-1]) == base[::-1]
    assert _flags([v * 10 for v in values if v is not None]) == base
    # A second group with different values does not change the first group's flags.
    other: list[float | None] = [50.0, 51.0, 52.0, 53.0, 54.0, 55.0, 56.0, 57.0, 58.0, 59.0]
    both = _flags(values + other, ["a"] * 10 + ["b"] * 10)
    assert both[:10] == base
    assert not any(both[10:])


def test_outlier_rule_does_not_flag_when_spread_is_zero() -> None:
    assert _flags([5.0, 5.0, 5.0, 5.0, 9.0]) == [False] * 5
