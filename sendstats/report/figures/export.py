"""``sendstats figure``: write one figure's data as CSV and say how it was made."""

from __future__ import annotations

from pathlib import Path

from sendstats.report.figures.base import (
    FigureContext,
    FigureError,
    all_figures,
    export_csv,
    get_figure,
    load_figure_context,
)
from sendstats.report.provenance import source_note


def figure_context(la: str | None) -> FigureContext:
    """Load the tables a figure draws from, for one LA or (``None``) for England."""
    from sendstats import geography

    return load_figure_context(geography.resolve_la(la) if la else None)


def list_figures() -> str:
    """Return every figure id with its title and whether it needs ``--la``."""
    lines = []
    for fig in all_figures():
        need = "needs --la" if fig.needs_la else "England-wide (--la marks an LA)"
        lines.append(f"{fig.id:<34} {fig.title} [{need}]")
    return "\n".join(lines)


def write_figure(figure_id: str, la: str | None, out_dir: Path) -> tuple[Path, str]:
    """Write a figure's plotted rows as CSV into ``out_dir`` and return (path, explanation).

    The explanation gives the figure, the rows written, the filter and arithmetic (the
    figure's recipe) and the source note naming every pinned file behind the rows.

    Raises:
        UnknownFigureError: the id is not a registered figure.
        FigureError: the figure needs an LA and none was given, or it has no data.

    """
    fig = get_figure(figure_id)
    if fig.needs_la and not la:
        raise FigureError(f"figure {figure_id!r} shows one LA: give --la NAME-OR-CODE")
    ctx = figure_context(la)
    data = fig.data(ctx)
    if data.height == 0:
        raise FigureError(f"figure {figure_id!r} has no data for {ctx.la_name}")
    path = export_csv(fig, ctx, data, out_dir)
    text = "\n".join(
        [
            f"{fig.title} ({fig.id}) for {ctx.la_name}",
            f"wrote {path} ({data.height} rows, columns: {', '.join(data.columns)})",
            f"filter and arithmetic: {fig.recipe(ctx)}",
            f"alt text: {fig.alt_text(ctx, data)}",
            source_note(data),
        ]
    )
    return path, text
