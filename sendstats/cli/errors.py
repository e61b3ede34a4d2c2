"""The errors sendstats expects users to meet, so the CLI can print them without a traceback."""

from __future__ import annotations

from sendstats.acquire.catalog import DeclarationError
from sendstats.core.checks import RawInputError
from sendstats.core.io import LockTimeoutError
from sendstats.geography import LACodeError, UnknownLAError
from sendstats.metrics.registry import NoValueError, UnknownMetricError
from sendstats.report.figures.base import FigureError, UnknownFigureError
from sendstats.sources.ons_population import PopulationFileError


def _optional() -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = []
    try:
        from sendstats.acquire.fetch import FetchError

        found.append(FetchError)
    except ImportError:  # pragma: no cover - fetch always ships; kept for partial installs
        pass
    try:
        from sendstats.render.document import RenderError

        found.append(RenderError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(found)


KNOWN_ERRORS: tuple[type[BaseException], ...] = (
    DeclarationError,
    RawInputError,
    PopulationFileError,
    UnknownLAError,
    LACodeError,
    LockTimeoutError,
    UnknownMetricError,
    UnknownFigureError,
    FigureError,
    NoValueError,
    FileNotFoundError,
    *_optional(),
)
