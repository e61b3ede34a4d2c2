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


def format_value(value: float | None, unit: str) -> str:
    """Format a value for text and tables: counts with separators, % and indices to 1 dp."""
    if value is None:
        return "not available"
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "gbp":
        return f"£{value:,.0f}"
    if unit == "pct":
        return f"{value:.1f}%"
    if unit == "per_10k":
        return f"{value:.1f} per 10,000"
    if unit == "score":  # Attainment 8 (1 dp) and Progress 8 (2 dp) as DfE prints them
        return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"
    return f"{value:.1f}"


def format_money(value: float) -> str:
    """Format a sum of money as people quote it: £9.95bn, £311.7m, £675 (-£12.3m below zero).

    Tables and quoted figures use it where a full count of pounds (£9,952,172,126) would be
    read digit by digit; the exact figure stays in the CSV and the recipe.
    """
    size = abs(value)
    if size >= 1e9:
        text = f"£{size / 1e9:,.2f}bn"
    elif size >= 1e6:
        text = f"£{size / 1e6:,.1f}m"
    else:
        text = f"£{size:,.0f}"
    return f"-{text}" if value < 0 and not shows_zero(text) else text


def shows_zero(text: str) -> bool:
    """Return True when a formatted number shows zero (``0``, ``0.0 pp``, ``£0``): no sign."""
    return not any(ch.isdigit() and ch != "0" for ch in text)


def format_change(value: float | None, unit: str) -> str:
    """Format a change with its sign: percentage points for %, the unit otherwise."""
    if value is None:
        return "not available"
    sign = "+" if value > 0 else ("-" if value < 0 else "±")
    size = abs(value)
    if unit == "pct":
        return f"{sign}{size:.1f} pp"
    if unit == "count":
        return f"{sign}{size:,.0f}"
    if unit == "gbp":
        return f"{sign}£{size:,.0f}"
    return f"{sign}{size:.1f}"


def period_label(year: int, period_type: str) -> str:
    """Return 'January 2025' for a census, '2024' for a calendar year, '2020-21' for a FY."""
    if period_type == "academic_year":
        return f"January {year}"
    if period_type == "financial_year":
        return f"{year}-{(year + 1) % 100:02d}"
    return str(year)
