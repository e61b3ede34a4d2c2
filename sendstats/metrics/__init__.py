"""Metric registry and metric computations, one module per theme."""

#: The metric tables the build writes under ``data/metrics``, one per theme, in build order.
#: Each is written by the theme module of the same name (``sendstats.metrics.<name>``), whose
#: import registers its metrics. The benchmarks table and the reports read exactly these.
METRIC_TABLES: tuple[str, ...] = (
    "ehcp",
    "tribunal",
    "adults",
    "rates",
    "high_needs",
    "placements",
    "reviews",
    "sen_support",
)
