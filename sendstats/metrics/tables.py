"""Read the built metric tables (``data/metrics/<theme>.parquet``), one layout for all themes."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from sendstats.core import config
from sendstats.metrics import METRIC_TABLES


def load_metrics(names: Sequence[str] = METRIC_TABLES) -> pl.DataFrame:
    """Read metric tables from ``data/metrics`` (one layout); say to build first if missing."""
    frames = []
    for name in names:
        path = config.metrics_dir() / f"{name}.parquet"
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: run `sendstats build` first")
        frames.append(pl.read_parquet(path))
    return pl.concat(frames, how="vertical")
