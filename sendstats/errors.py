"""The errors sendstats expects users to meet, so the CLI can print them without a traceback."""

from __future__ import annotations

from sendstats.catalog import DeclarationError
from sendstats.figures.base import FigureError, UnknownFigureError
from sendstats.geography import LACodeError, UnknownLAError
from sendstats.io import LockTimeoutError
from sendstats.metrics.registry import NoValueError, UnknownMetricError
from sendstats.population import PopulationFileError
from sendstats.readers import RawInputError


def _optional() -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = []
    try:
        from sendstats.fetch import FetchError

        found.append(FetchError)
    except ImportError:  # pragma: no cover - fetch always ships; kept for partial installs
        pass
    try:
        from sendstats.render import RenderError

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
