"""The metric registry: one typed definition per metric, the source of every caption.

Metric ids are snake_case with their unit as suffix and never change once published. Each
definition says what the number is, how it is computed, which way is good, which sources feed
it, where its series breaks and what to be careful about. Report captions, the data dictionary
and the methods page are generated from these definitions, never written by hand.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Literal

from sendstats.metrics.caveats import Caveat

Polarity = Literal["high_is_good", "low_is_good", "neither"]
Unit = Literal["count", "pct", "index", "per_10k", "gbp", "score"]
#: What kind of number a metric is, which decides its interval and funnel: a proportion of a
#: denominator (Wilson), a count or a rate per population (Poisson/Byar), or anything else
#: (growth, indices, money): no sampling interval.
Statistic = Literal["proportion", "count", "rate", "other"]
#: The token each unit must show in a metric id, so ids carry their unit.
UNIT_TOKENS: dict[str, str] = {
    "count": "_count",
    "pct": "_pct",
    "index": "_index",
    "per_10k": "_per_10k",
    "gbp": "_gbp",
    "score": "_score",
}


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
    #: Who derived a non-official metric: sendstats, or a named third party (e.g. a dashboard).
    derived_by: str = "sendstats"
    method: str = ""
    #: Where the series breaks, each with its scope (see :mod:`sendstats.metrics.caveats`).
    series_breaks: tuple[Caveat, ...] = ()
    #: What to be careful about, each with the LAs or situations it applies to.
    caveats: tuple[Caveat, ...] = field(default_factory=tuple)
    statistic: Statistic = "other"
    #: First period of each new series: a change from a period before one of these years to
    #: one on or after it crosses a break, and the benchmarks say so.
    break_years: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        """Refuse a definition that breaks the registry's rules, naming the metric."""
        problems = check_definition(self)
        if problems:
            raise ValueError(f"metric {self.id!r}: " + "; ".join(problems))

    def breaks_between(self, start: int, end: int) -> tuple[int, ...]:
        """Return the break years ``b`` with ``start < b <= end`` (a change across them)."""
        return tuple(b for b in self.break_years if start < b <= end)

    def caption(self) -> str:
        """One-line caption for charts and tables: title, unit and whose method."""
        who = "published by the producer" if self.official else f"derived by {self.derived_by}"
        return f"{self.title} ({self.unit}; {who})"


def check_definition(d: MetricDef) -> list[str]:
    """Return what is wrong with a definition (empty when it is valid).

    Rules: snake_case id carrying its unit token; a definition and title; at least one source;
    proportions and rates name their numerator and denominator; derived metrics say whose
    method; break years are plausible years, each explained by a series-break caveat of that
    year; every caveat is a :class:`Caveat` (its scope declared, not implied by its words).
    """
    problems = []
    if not re.fullmatch(r"[a-z][a-z0-9_]*", d.id):
        problems.append("id must be snake_case")
    if UNIT_TOKENS[d.unit] not in d.id:
        problems.append(f"id must carry its unit token {UNIT_TOKENS[d.unit]!r}")
    if not d.title.strip() or len(d.definition.strip()) < 20:
        problems.append("title and a one-paragraph definition are required")
    if not d.sources:
        problems.append("at least one source is required")
    if d.statistic in ("proportion", "rate") and not (d.numerator and d.denominator):
        problems.append(f"a {d.statistic} names its numerator and denominator")
    if d.statistic == "proportion" and d.unit != "pct":
        problems.append("a proportion is expressed in pct")
    if not d.official and not d.method:
        problems.append("a derived metric says whose method it follows")
    if any(not 1990 <= b <= 2100 for b in d.break_years):
        problems.append("break years must be years")
    if any(not isinstance(c, Caveat) for c in (*d.series_breaks, *d.caveats)):
        problems.append("caveats and series breaks are Caveat objects with a declared scope")
    else:
        explained = {c.years[0] for c in d.series_breaks if c.applies == "series_break" and c.years}
        missing = [b for b in d.break_years if b not in explained]
        if missing:
            problems.append(f"break years {missing} need a series-break caveat of that year")
    return problems


class LookupMessageError(KeyError):
    """A lookup that failed with a message for the user (printed as is, not KeyError's repr)."""

    def __str__(self) -> str:
        """Return the message itself, not KeyError's quoted repr."""
        return str(self.args[0]) if self.args else self.__class__.__name__


class UnknownMetricError(LookupMessageError):
    """A metric id that is not in the registry (the message lists the known ids)."""


class NoValueError(LookupMessageError):
    """A metric has no value for the LA and period asked for."""


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
        raise UnknownMetricError(
            f"unknown metric {metric_id!r}; known: {', '.join(sorted(_REGISTRY))}"
        ) from None


def registered(metric_id: str) -> MetricDef:
    """Return a metric's definition, loading the other theme modules only if it is not yet known.

    For code running inside one theme's computation (its metrics are registered by its own
    import), so a worker computing one table does not import every theme.
    """
    return _REGISTRY[metric_id] if metric_id in _REGISTRY else get_metric(metric_id)


def all_metrics() -> list[MetricDef]:
    """Return every registered metric, sorted by id."""
    _load_all()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


@functools.cache
def _load_all() -> None:
    # Importing each theme module (one per metric table) registers its metrics; cached, as a
    # report asks for definitions thousands of times and the walk cost 10 ms a profile.
    import importlib

    from sendstats.metrics import METRIC_TABLES

    for name in METRIC_TABLES:
        importlib.import_module(f"sendstats.metrics.{name}")
