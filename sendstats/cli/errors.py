"""The errors sendstats expects users to meet, so the CLI can print them without a traceback.

:data:`KNOWN_ERRORS` are printed on one line (exit status 1); :data:`USAGE_ERRORS`, a
command line naming something that does not exist, exit with status 2. Anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

from sendstats.acquire.catalog import DeclarationError
from sendstats.acquire.manifest import ManifestError
from sendstats.cli.usage import UsageError
from sendstats.core.io import LockTimeoutError
from sendstats.geography import LACodeError, UnknownLAError
from sendstats.metrics.registry import NoValueError, UnknownMetricError
from sendstats.report.figures.base import FigureError, UnknownFigureError
from sendstats.sources.ons_population import PopulationFileError
from sendstats.sources.readers import RawInputError


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


#: A command line that names an unknown LA, metric, figure, release or source (exit 2).
USAGE_ERRORS: tuple[type[BaseException], ...] = (
    UsageError,
    UnknownLAError,
    UnknownMetricError,
    UnknownFigureError,
)

KNOWN_ERRORS: tuple[type[BaseException], ...] = (
    *USAGE_ERRORS,
    DeclarationError,
    ManifestError,
    RawInputError,
    PopulationFileError,
    LACodeError,
    LockTimeoutError,
    FigureError,
    NoValueError,
    # Disk full, permission denied, a missing or unreadable file: the message names the path.
    OSError,
    *_optional(),
)


def one_line(exc: BaseException) -> str:
    """Return an error's message with what to fix on its first line.

    A raw-file error listing several schema failures keeps them, one per line below a first
    line that names the file, column and row.
    """
    if isinstance(exc, RawInputError) and "\n" in exc.problem:
        first, *details = exc.problem.splitlines()
        head = RawInputError(
            exc.path, first, column=exc.column, row=exc.row, value=exc.value, sheet=exc.sheet
        )
        return "\n".join([str(head), *details])
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.strerror}: {exc.filename}"
    return " ".join(str(exc).split("\n")) if str(exc) else type(exc).__name__
