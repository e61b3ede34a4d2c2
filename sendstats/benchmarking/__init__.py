"""The benchmarking engine: every metric for every LA against England, region and neighbours.

- :mod:`~sendstats.benchmarking.bands`: percentiles and LAIT quartile bands A to D.
- :mod:`~sendstats.benchmarking.funnel`: funnel limits around England and significance labels.
- :mod:`~sendstats.benchmarking.table`: the benchmarks table written to
  ``data/metrics/benchmarks.parquet``.
- :mod:`~sendstats.benchmarking.schema`: its pandera contract (the data dictionary).
- :mod:`~sendstats.benchmarking.api`: :func:`benchmark`, the small typed result reports use.
"""

from __future__ import annotations
