"""The errors sendstats expects users to meet, so the CLI can print them without a traceback.

:data:`KNOWN_ERRORS` are printed on one line (exit status 1); :data:`USAGE_ERRORS`, a
command line naming something that does not exist, exit with status 2. Anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

from sendstats.acquire.catalog import DeclarationError
from sendstats.acquire.manifest import ManifestError
from sendstats.cli.usage import UsageError
from sendstats.core.checks import RawInputError
from sendstats.core.io import LockTimeoutError, StorageError
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
    StorageError,
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


def unreadable_table(exc: BaseException) -> str | None:
    """Return the message for a built table polars cannot read (truncated, not parquet).

    Such a file is damaged data, not a bug: the fix is to rebuild it. Other polars errors
    are bugs and keep their traceback (None is returned).
    """
    import polars as pl

    text = str(exc)
    if not isinstance(exc, pl.exceptions.PolarsError) or "parquet" not in text.lower():
        return None
    from sendstats.core import config

    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return (
        f"a built table in {config.data_dir()} cannot be read ({first}): rebuild it with "
        "`sendstats build --offline --force`"
    )
