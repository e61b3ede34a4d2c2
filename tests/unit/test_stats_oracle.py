"""The interval maths against scipy as an independent oracle (scipy is a test dependency only).

Wilson's score interval has a closed form; the exact Poisson (Garwood) interval is given by
chi-squared quantiles; Byar's approximation must stay within a small relative error of the
exact interval once counts are moderate, as Breslow and Day state. The quantiles themselves are
checked against scipy's normal distribution.
"""

from __future__ import annotations

import math

import pytest
from scipy import stats as sps

from sendstats.metrics import stats


@pytest.mark.parametrize("z, level", [(stats.Z_95, 0.975), (stats.Z_998, 0.999)])
def test_normal_quantiles_are_scipys(z: float, level: float) -> None:
    assert z == pytest.approx(sps.norm.ppf(level), abs=1e-12)
    assert pytest.approx(1 / sps.norm.ppf(0.75), abs=1e-12) == stats.MAD_SCALE


@pytest.mark.parametrize(
    "k, n", [(0, 1), (0, 10), (1, 2), (3, 7), (5, 100), (50, 50), (87, 1500), (6871, 133658)]
)
@pytest.mark.parametrize("z", [stats.Z_95, stats.Z_998])
def test_wilson_matches_the_closed_form_through_scipy_quantiles(k: int, n: int, z: float) -> None:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = stats.wilson_interval(k, n, z)
    assert low == pytest.approx(max(0.0, centre - half), abs=1e-12)
    assert high == pytest.approx(min(1.0, centre + half), abs=1e-12)


@pytest.mark.parametrize("count", [0, 1, 2, 5, 10, 37, 100, 1505])
@pytest.mark.parametrize("z, alpha", [(stats.Z_95, 0.05), (stats.Z_998, 0.002)])
def test_exact_poisson_equals_the_chi_squared_form(count: int, z: float, alpha: float) -> None:
    low, high = stats.exact_poisson_interval(count, z)
    want_low = 0.0 if count == 0 else sps.chi2.ppf(alpha / 2, 2 * count) / 2
    want_high = sps.chi2.ppf(1 - alpha / 2, 2 * count + 2) / 2
    assert low == pytest.approx(want_low, rel=1e-6, abs=1e-9)
    assert high == pytest.approx(want_high, rel=1e-6)


@pytest.mark.parametrize("count", [20, 50, 200, 1000, 9184])
def test_byar_is_close_to_the_exact_interval_for_moderate_counts(count: int) -> None:
    low, high = stats.byar_interval(count, stats.Z_95)
    want_low = sps.chi2.ppf(0.025, 2 * count) / 2
    want_high = sps.chi2.ppf(0.975, 2 * count + 2) / 2
    assert low == pytest.approx(want_low, rel=2e-3)
    assert high == pytest.approx(want_high, rel=2e-3)
