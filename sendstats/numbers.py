"""Number handling shared by every source: rounding the way publishers round.

UK official statistics round halves up (6.25 -> 6.3), while Python and polars round halves to
even (6.25 -> 6.2). To reproduce a published figure to its precision, round half up.
"""

from __future__ import annotations

import polars as pl

_EPS = 1e-9  # absorbs binary noise such as 6.2499999999 for a true 6.25


def round_half_up(expr: pl.Expr, decimals: int) -> pl.Expr:
    """Round a polars expression half up (away from zero for positives) to ``decimals``."""
    scale = 10.0**decimals
    return (expr * scale + 0.5 + _EPS).floor() / scale


def round_half_up_value(value: float, decimals: int) -> float:
    """Round one number half up to ``decimals``."""
    import math

    scale = 10.0**decimals
    return math.floor(value * scale + 0.5 + _EPS) / scale
