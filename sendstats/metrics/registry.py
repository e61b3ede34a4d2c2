"""The metric registry: one typed definition per metric, the source of every caption.

Metric ids are snake_case with their unit as suffix and never change once published. Each
definition says what the number is, how it is computed, which way is good, which sources feed
it, where its series breaks and what to be careful about. Report captions, the data dictionary
and the methods page are generated from these definitions, never written by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Polarity = Literal["high_is_good", "low_is_good", "neither"]
Unit = Literal["count", "pct", "index", "per_10k", "gbp"]


@dataclass(frozen=True)
class MetricDef:
    """A metric: identity, meaning, arithmetic, polarity, provenance and caveats."""

    id: str
    title: str
    definition: str
    unit: Unit
    polarity: Polarity
    period_type: Literal["academic_year", "calendar_year", "financial_year"]
    sources: tuple[str, ...]
    numerator: str | None = None
    denominator: str | None = None
    official: bool = True
    method: str = ""
    series_breaks: tuple[str, ...] = ()
    caveats: tuple[str, ...] = field(default_factory=tuple)

    def caption(self) -> str:
        """One-line caption for charts and tables: title, unit and whose method."""
        who = "published by the producer" if self.official else "derived by sendstats"
        return f"{self.title} ({self.unit}; {who})"


_REGISTRY: dict[str, MetricDef] = {}


def register(*defs: MetricDef) -> None:
    """Add metric definitions; an id may be registered once only."""
    for d in defs:
        if d.id in _REGISTRY and _REGISTRY[d.id] != d:
            raise ValueError(f"metric id {d.id!r} registered twice with different definitions")
        _REGISTRY[d.id] = d


def get_metric(metric_id: str) -> MetricDef:
    """Return a metric definition, or raise listing the known ids."""
    _load_all()
    try:
        return _REGISTRY[metric_id]
    except KeyError:
        raise KeyError(
            f"unknown metric {metric_id!r}; known: {', '.join(sorted(_REGISTRY))}"
        ) from None


def all_metrics() -> list[MetricDef]:
    """Return every registered metric, sorted by id."""
    _load_all()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def _load_all() -> None:
    # Importing the theme modules registers their metrics.
    from sendstats.metrics import adults, ehcp, rates, tribunal  # noqa: F401
