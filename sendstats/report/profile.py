"""What the Quarto reports call: resolve the LA, load its numbers, and show each section.

The ``.qmd`` files hold no logic beyond calling these functions. Each ``show_*`` function
displays one chart or table with its source note and alt text, and, when the environment names
a figure folder (``SENDSTATS_FIGURE_DIR``), writes the data behind it as CSV there.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from sendstats import geography
from sendstats.acquire import manifest
from sendstats.core.version import __version__
from sendstats.report.figures.base import (
    FigureContext,
    Tables,
    export_csv,
    figure_dir,
    get_figure,
    load_figure_context,
    split_by_metric,
)
from sendstats.report.provenance import short_source, source_note
from sendstats.report.viz import charts, theme
from sendstats.report.viz import display as display_bundles

HEADLINE_METRICS = (
    "ehc_plans_count",
    "ehc_plans_change_pct",
    "ehc_plans_cagr_5y_pct",
    "ehc_plans_index_2015",
    "new_ehc_plans_count",
    "requests_count",
    "requests_refused_pct",
    "plans_within_20_weeks_excl_exceptions_pct",
    "plans_within_20_weeks_incl_exceptions_pct",
    "ehc_plans_per_10k_0_25",
    "tribunal_appeals_count",
    "tribunal_appeal_rate_pct",
    "tribunal_appeal_rate_annual_reviews_pct",
    "ascof_1e_ld_paid_employment_pct",
    "high_needs_block_per_head_2_18_gbp",
    "high_needs_spend_per_head_2_18_gbp",
    "dsg_balance_of_total_income_pct",
)


#: Below this many cases a percentage is called out as unstable in the narrative.
SMALL_DENOMINATOR = 30


@dataclass(frozen=True)
class LaContext:
    """Everything one LA profile shows: the LA, its region and England, and all LAs' values."""

    la: geography.LocalAuthority
    metrics: pl.DataFrame  # every metric row for England, the LA's region and all LAs
    bench: pl.DataFrame = field(default_factory=pl.DataFrame)  # benchmark rows, every LA
    tables: Tables | None = field(default=None, compare=False, repr=False)

    # The row sets below are filtered once per profile and kept: sections ask for them a few
    # hundred times (frozen dataclasses allow cached_property: it writes the instance dict).

    def figure_context(self) -> FigureContext:
        """Return the context registered figures draw from (one per profile)."""
        return self._figures

    @cached_property
    def _figures(self) -> FigureContext:
        return FigureContext(self.la, self.metrics, self.bench, self.tables)

    @cached_property
    def _own_bench_by_id(self) -> dict[str, pl.DataFrame]:
        """The LA's benchmark rows with a value, by metric and year (from the figure context's)."""
        own = self.figure_context().la_bench_rows
        return split_by_metric(own.filter(pl.col("value").is_not_null()))

    def bench_row(self, metric_id: str, year: object | None = None) -> dict[str, Any] | None:
        """Return the LA's benchmark row of a metric (latest with a value, or of ``year``)."""
        rows = self._own_bench_by_id.get(metric_id)
        if rows is None:
            return None
        if year is not None:
            rows = rows.filter(pl.col("year") == year)
        return rows.row(-1, named=True) if rows.height else None

    def la_metric(self, metric_id: str) -> pl.DataFrame:
        """Return the LA's own rows of one metric (split once per profile)."""
        return self._la_by_id.get(metric_id, self.metrics.clear())

    def region_metric(self, metric_id: str) -> pl.DataFrame:
        """Return the LA's region's rows of one metric (split once per profile)."""
        return self._region_by_id.get(metric_id, self.metrics.clear())

    def england_metric(self, metric_id: str) -> pl.DataFrame:
        """Return England's rows of one metric, by year (split once per kernel)."""
        return self._figures.area_rows(metric_id, "National")

    @cached_property
    def _la_by_id(self) -> dict[str, pl.DataFrame]:
        return split_by_metric(self.la_rows)

    @cached_property
    def _region_by_id(self) -> dict[str, pl.DataFrame]:
        return split_by_metric(self.region_rows)

    @cached_property
    def la_rows(self) -> pl.DataFrame:
        """Metric rows of the LA itself."""
        return self.metrics.filter(pl.col("la_code_dfe") == self.la.la_code_dfe)

    @cached_property
    def region_rows(self) -> pl.DataFrame:
        """Metric rows of the LA's region (published regional rows)."""
        return self.metrics.filter(
            (pl.col("geographic_level") == "Regional")
            & (pl.col("area_code") == self.la.region_code)
        )

    @cached_property
    def england_rows(self) -> pl.DataFrame:
        """Metric rows for England."""
        return self.metrics.filter(pl.col("geographic_level") == "National")


def load_la_context(la: str | int) -> LaContext:
    """Resolve ``la`` (name, GSS or 3-digit code) and load the metrics the profile needs.

    ``quarto render ... -P la:202`` passes the code as a YAML int, hence ``str``.
    """
    fctx = load_figure_context(geography.resolve_la(str(la)))
    assert fctx.la is not None
    return LaContext(la=fctx.la, metrics=fctx.metrics, bench=fctx.bench, tables=fctx.tables)


def load_england_context() -> FigureContext:
    """Load what the England overview draws from: every metric and benchmark row, no LA."""
    return load_figure_context(None)


def latest(rows: pl.DataFrame, metric_id: str) -> dict[str, Any] | None:
    """Return the latest non-null row of a metric, or None."""
    sub = rows.filter((pl.col("metric_id") == metric_id) & pl.col("value").is_not_null())
    if sub.height == 0:
        return None
    return sub.sort("year").row(-1, named=True)


def show_figure(ctx: LaContext | FigureContext, figure_id: str) -> None:
    """Display a registered figure, its one-line caption and its recipe (collapsed).

    Where the LA has no value in an LA figure the chart is replaced by a sentence saying why
    (not yet formed, abolished, suppressed, not collected); an every-LA chart is drawn and the
    caption says why the LA is not in it. The CSV (the rows plotted, with the release, file
    and sha256 of each) is written to the folder named by ``SENDSTATS_FIGURE_DIR`` when it is
    set, as the renderers do, and linked from the caption.
    """
    from sendstats.report import absence

    fctx = ctx.figure_context() if isinstance(ctx, LaContext) else ctx
    fig = get_figure(figure_id)
    data = fig.data(fctx)
    if data.height == 0 or "value" not in data.columns or data["value"].is_null().all():
        _show_markdown(f"*{fig.title}*: no figures are held.")
        return
    missing = fctx.la is not None and not figure_has_la(fctx, data)
    if missing and fig.needs_la:
        why = absence.absence_reason(fctx, fig.metric_ids[0])
        _show_markdown(f"*{fig.title}*: no chart for {fctx.la_name}, as {why}.")
        return
    theme.enable()
    chart = fig.chart(fctx, data)  # its description is the figure's alt text
    _display_chart(chart, charts.description(chart) or fig.alt_text(fctx, data))
    folder = figure_dir()
    csv = export_csv(fig, fctx, data, folder) if folder else None
    line = short_source(data)
    if missing:
        why = absence.absence_reason(fctx, fig.metric_ids[0])
        line = f"{fctx.la_name} is not in this chart, as {why}. {line}"
    _show_markdown(caption_block(line, csv))
    _show_markdown(recipe_block(fig.recipe(fctx), source_note(data)))


def figure_has_la(ctx: FigureContext, data: pl.DataFrame) -> bool:
    """Return True when a figure's rows hold a value of the context LA."""
    if ctx.la is None:
        return False
    if "la_code_dfe" in data.columns:
        return ctx.own_row(data) is not None
    if "series" in data.columns:
        name, pairs = ctx.la.la_name, zip(data["series"], data["value"], strict=True)
        return any(s == name and v is not None for s, v in pairs)
    return False


def caption_block(text: str, csv: Path | None) -> str:
    """Return a figure's one-line caption (markdown of raw HTML and raw typst blocks).

    HTML links the CSV beside the page (relative); the PDF, which is often moved away from the
    site folder, links it by its full path (a file URL), in small grey type under the chart.
    """
    link_html = link_typst = ""
    if csv is not None:
        rel = html.escape(f"figures/{csv.name}")
        link_html = f' Data: <a href="{rel}">{html.escape(csv.name)}</a>.'
        url = csv.resolve().as_uri()
        link_typst = f' #" Data: "#link({_typst_str(url)})[#{_typst_str(csv.name)}]#"."'
    return (
        f'```{{=html}}\n<div class="figure-source">{html.escape(text)}{link_html}</div>\n```\n\n'
        "```{=typst}\n#block(above: 0.4em, below: 1.2em)[#set text(size: 8pt, fill: luma(35%))\n"
        f"#{_typst_str(text)}{link_typst}]\n```\n"
    )


def _typst_str(text: str) -> str:
    """Return ``text`` as a typst string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def recipe_block(recipe: str, note: str) -> str:
    """Return the collapsed "How this figure was made" block (HTML only).

    In print, the methods page and the CSV carry the same recipe and sources.
    """
    body = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(recipe, quote=False))
    return (
        '```{=html}\n<details class="recipe"><summary>How this figure was made</summary>'
        f"<p>{body}</p><p>{html.escape(note, quote=False)}</p></details>\n```\n"
    )


def _show(obj: object, *, raw: bool = False) -> None:
    """Display one output in the running notebook (HTML, SVG or markdown)."""
    from IPython.display import display

    if hasattr(obj, "as_raw_html"):  # a great-tables table: raw HTML (viz.display says why)
        obj, raw = display_bundles.table_bundle(obj.as_raw_html()), True
    display(obj, raw=raw)  # type: ignore[no-untyped-call]


def _show_markdown(text: str) -> None:
    from IPython.display import Markdown

    _show(Markdown(text))  # type: ignore[no-untyped-call]


def _display_chart(chart: Any, alt_text: str) -> None:
    """Show a chart as inline SVG with its own alt text (no JavaScript; HTML and PDF alike)."""
    _show(display_bundles.chart_bundle(charts.to_svg(chart, alt_text), alt_text), raw=True)


def row_for(rows: pl.DataFrame, metric_id: str, year: object) -> dict[str, Any] | None:
    """Return the row of a metric in one period, or None."""
    sub = rows.filter((pl.col("metric_id") == metric_id) & (pl.col("year") == year))
    return sub.row(0, named=True) if sub.height else None


def footer() -> str:
    """Return the report footer: sendstats version, commit and licence line (markdown)."""
    commit = manifest.git_commit() or "unknown commit"
    return (
        f"Made with sendstats {__version__} ({commit[:12]}). Contains public sector information "
        "licensed under the Open Government Licence v3.0."
    )


def profile_title(la: geography.LocalAuthority) -> str:
    """Return a profile's title: the LA first, so tabs, bookmarks and PDF headers name it."""
    return f"{la.la_name}: SEND profile"


def navigation(depth: int = 1) -> str:
    """Return the site links every page carries (HTML only): index, overview, methods.

    Args:
        depth: how many folders below the site root the page sits (profiles: 1).

    """
    up = "../" * depth
    links = [
        ("All local authorities", "index.html"),
        ("England overview", "england_overview.html"),
        ("Methods and sources", "methods.html"),
    ]
    items = " · ".join(f'<a href="{up}{href}">{text}</a>' for text, href in links)
    return (
        f"```{{=html}}\n<style>{PAGE_CSS}</style>\n"
        f'<nav class="site-nav" aria-label="Site">{items}</nav>\n```\n'
    )


#: Styles for what the report code adds to a page (site links, captions, recipes); the
#: renderer's stylesheet does the rest.
PAGE_CSS = (
    ".site-nav{margin:0.5rem 0 1rem;font-size:0.95rem}"
    ".figure-source{color:#505a5f;font-size:0.85rem;margin:-0.6rem 0 0.2rem}"
    ".figure-source p{margin:0}"
    "details.recipe{font-size:0.85rem;color:#505a5f;margin:0 0 1.8rem}"
    "details.recipe summary{cursor:pointer}"
    "details.values-by-year{margin:1rem 0}"
    "details.values-by-year table{font-size:0.85rem}"
    "main table{display:block;overflow-x:auto;max-width:100%}"
    "main td{overflow-wrap:anywhere}"
    # Numbers are never split inside ('638,745'), but a long right-aligned cell ('100.0%†
    # (20.7% to 100.0%)', 'fewer than 10 cases') wraps at its spaces rather than being cut off.
    "td.gt_right{overflow-wrap:normal}"
    # The summary's fixed column shares fit its numbers from about 57rem (the page's text
    # width); narrower, the table scrolls sideways in its frame rather than clipping them.
    'table.gt_table[style*="table-layout: fixed"]{min-width:57rem}'
)


def title_block(ctx: LaContext) -> str:
    """Return a profile's opening (markdown): the title naming the LA, links, codes and region.

    The title is set as document metadata (a YAML block), so the page title, the H1, the
    browser tab and the PDF's title field all name the LA; the PDF header reads it from there.
    """
    la = ctx.la
    title = profile_title(la)
    meta = f"---\ntitle: {json.dumps(title)}\npagetitle: {json.dumps(title)}\n---\n"
    count = latest(ctx.la_rows, "ehc_plans_count")
    when = f" Latest EHC plan figures: January {count['year']}." if count else ""
    return (
        f"\n{meta}\n{navigation(1)}\n"
        f"**{la.la_name}** (GSS {la.la_code}, DfE code {la.la_code_dfe}), {la.region_name}.{when}\n"
    )
