"""LA profiles rendered through the fallback renderer show the numbers in the metric tables."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import polars as pl
import pytest

from sendstats import geography
from sendstats.core import config
from sendstats.render import publish
from sendstats.report import rules

# A large county, a London borough (Hackney), Cumberland (formed 2023), the Isles of Scilly
# (small numbers), Cumbria (abolished 2023).
LAS = ["Kent", "E09000012", "942", "Isles of Scilly", "Cumbria"]


@pytest.fixture(scope="module")
def site(built_root: Path) -> Path:
    for la in LAS:
        publish.render_la_profile(la, built_root / "_site", engine="fallback")
    return built_root


def _html(site: Path, query: str) -> str:
    la = geography.resolve_la(query)
    return (site / "_site" / "la" / f"{publish.profile_slug(la)}.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("query", LAS)
def test_profile_shows_the_tidy_value_and_rank(site: Path, query: str) -> None:
    la = geography.resolve_la(query)
    metrics = pl.read_parquet(site / "data" / "metrics" / "ehcp.parquet")
    row = (
        metrics.filter(
            pl.col("metric_id") == "ehc_plans_count",
            pl.col("la_code_dfe") == la.la_code_dfe,
            pl.col("value").is_not_null(),
        )
        .sort("year")
        .row(-1, named=True)
    )
    page = re.sub(r"\s+", " ", _html(site, query))
    assert f"<strong>{row['value']:,.0f}</strong> EHC plans" in page
    assert f"of {row['n_ranked']} LAs" in page
    assert '<html lang="en-GB"' in page


@pytest.mark.parametrize("query", LAS)
def test_profile_has_sections_source_notes_alt_text_and_footer(site: Path, query: str) -> None:
    page = re.sub(r"\s+", " ", _html(site, query))
    for heading in (
        "At a glance",
        "EHC plans",
        "Where children with plans are taught, and support without a plan",
        "High needs and the Dedicated Schools Grant",
        "SEND Tribunal appeals",
        "Adults with a learning disability in paid work",
        "Notes and caveats",
    ):
        assert re.search(rf"<h2[^>]*>{heading}</h2>", page), heading
    svgs = re.findall(r"<svg[^>]*>", page)
    assert len(svgs) >= 5
    labels = [re.search(r'aria-label="([^"]*)"', s) for s in svgs]
    assert all(m and len(m.group(1)) > 40 for m in labels), "every chart states what it shows"
    assert "sha256 c1c5448407d1" in page  # caseload.csv, 2025 release, in a recipe block
    assert "How this figure was made" in page
    assert "Open Government Licence v3.0" in page
    assert "Made with sendstats" in page
    assert "<script src=" not in page  # self-contained


def test_trend_csv_reproduces_the_chart_data(site: Path) -> None:
    la = geography.resolve_la("Kent")
    path = site / "_site" / "la" / "figures" / f"{la.la_code_dfe}__ehcp_trend_indexed.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    kent = {int(r["year"]): float(r["value"]) for r in rows if r["series"] == la.la_name}
    assert kent[2015] == pytest.approx(100.0)
    for r in rows:
        if r["series"] == la.la_name:
            assert float(r["value"]) == pytest.approx(
                float(r["numerator"]) / float(r["denominator"]) * 100
            )


def test_unknown_la_is_refused_with_candidates(site: Path) -> None:
    with pytest.raises(geography.UnknownLAError) as err:
        publish.render_la_profile("Leedz", site / "_site", engine="fallback")
    assert "Leeds" in str(err.value)


@pytest.mark.parametrize("bad", ["383; rm -rf /", "../../etc/passwd", "__import__('os')"])
def test_injection_attempts_never_reach_the_renderer(site: Path, bad: str) -> None:
    with pytest.raises(geography.UnknownLAError):
        publish.render_la_profile(bad, site / "_site", engine="fallback")
    assert config.reports_dir().is_dir()


@pytest.mark.parametrize("query", LAS)
def test_profile_tribunal_and_adult_figures_match_metric_tables(site: Path, query: str) -> None:
    la = geography.resolve_la(query)
    page = re.sub(r"\s+", " ", _html(site, query))
    trib = pl.read_parquet(site / "data" / "metrics" / "tribunal.parquet").filter(
        pl.col("metric_id") == "tribunal_appeal_rate_pct", pl.col("la_code_dfe") == la.la_code_dfe
    )
    row = trib.sort("year").row(-1, named=True)
    assert f"{row['value']:.1f}% of {row['denominator']:,.0f} appealable decisions" in page
    adults = pl.read_parquet(site / "data" / "metrics" / "adults.parquet").filter(
        pl.col("metric_id") == "ascof_1e_ld_paid_employment_pct",
        pl.col("la_code_dfe") == la.la_code_dfe,
        pl.col("value").is_not_null(),
    )
    # Cumberland did not exist in 2020-21 (ASCOF reports Cumbria); Hackney's 1E is [x].
    if adults.height:
        a = adults.row(0, named=True)
        assert f"{a['value']:.1f}% of adults aged 18-64" in page
    else:
        assert f"No ASCOF 1E figure is shown for {la.la_name}" in page
    for heading in ("SEND Tribunal appeals", "Adults with a learning disability in paid work"):
        assert re.search(rf"<h2[^>]*>{heading}</h2>", page), heading


def test_methods_page_lists_every_pin_and_metric() -> None:
    from sendstats.acquire import catalog
    from sendstats.metrics.registry import all_metrics
    from sendstats.report import pages

    text = pages.methods_markdown()
    for decl in catalog.load_catalog().values():
        for rel in decl.releases:
            for f in rel.files:
                assert f.sha256[:16] in text, (decl.id, f.name)
    for m in all_metrics():
        assert f"`{m.id}`" in text
    assert "has not yet met a full real file" in text


def test_data_dictionary_reads_as_text_not_code(built_root: Path) -> None:
    from sendstats.report import pages

    text = pages.data_dictionary_markdown()
    assert "Tidy EHC plan statistics" in text
    # A model docstring's indented second paragraph once became a code block, in reST quotes.
    assert not [line for line in text.splitlines() if line.startswith("    ")]
    assert "``" not in text


PROFILE_FIGURES = [
    "ehcp_trend_indexed",
    "ehcp_rate_per_10k",
    "requests_refused_trend",
    "timeliness_trend",
    "primary_need_mix",
    "ehcp_growth_strip",
    "tribunal_rate_trend",
    "tribunal_funnel",
    "adults_ld_employment_intervals",
    "high_needs_dsg_balance_trend",
    "high_needs_block_per_head_trend",
    "placement_mix",
    "placements_independent_special_growth",
    "sen_support_trend",
    "attainment8_gap_trend",
    "deficit_against_funding",
]


def _records(rows: list[dict[str, object]], cols: list[str]) -> list[tuple[object, ...]]:
    def norm(v: object) -> object:
        if v in (None, ""):
            return None
        if isinstance(v, bool) or v in ("true", "false"):  # polars writes booleans lower-case
            return str(v).lower()
        try:
            return round(float(str(v)), 6)
        except ValueError:
            return str(v)

    return sorted((tuple(norm(r.get(c)) for c in cols) for r in rows), key=repr)


@pytest.mark.parametrize("figure_id", PROFILE_FIGURES)
def test_each_figure_csv_holds_exactly_the_plotted_data(site: Path, figure_id: str) -> None:
    from sendstats.report.figures.base import get_figure
    from sendstats.report.figures.export import figure_context

    mp = pytest.MonkeyPatch()
    mp.setenv("SENDSTATS_DATA_DIR", str(site / "data"))
    try:
        ctx = figure_context("Kent")
        fig = get_figure(figure_id)
        data = fig.data(ctx)
        spec = fig.chart(ctx, data).to_dict()
    finally:
        mp.undo()
    path = site / "_site" / "la" / "figures" / f"886__{figure_id}.csv"
    exported = list(csv.DictReader(path.open(encoding="utf-8")))
    assert exported, figure_id
    compared = 0
    for records in spec.get("datasets", {}).values():
        cols = [c for c in records[0] if c in exported[0]]
        if not cols:
            continue  # a reference line drawn from a constant, not from the data
        layer_rows = exported
        if "layer" in cols:  # the funnel's points and limit lines share one table
            layers = {r["layer"] for r in records}
            layer_rows = [r for r in exported if r["layer"] in layers]
        assert _records(records, cols) == _records(layer_rows, cols), figure_id
        compared += 1
    assert compared >= 1


@pytest.mark.parametrize("query", LAS)
def test_summary_table_shows_band_rank_and_significance_from_benchmarks(
    site: Path, query: str
) -> None:
    la = geography.resolve_la(query)
    bench = pl.read_parquet(site / "data" / "metrics" / "benchmarks.parquet").filter(
        pl.col("la_code_dfe") == la.la_code_dfe,
        pl.col("metric_id") == "tribunal_appeal_rate_pct",
        pl.col("value").is_not_null(),
    )
    row = bench.sort("year").row(-1, named=True)
    summary = site / "_site" / "la" / "figures" / f"{la.la_code_dfe}__summary_table.csv"
    rows = {r["metric_id"]: r for r in csv.DictReader(summary.open(encoding="utf-8"))}
    shown = rows["tribunal_appeal_rate_pct"]
    if row["denominator"] < rules.NO_RANK_BELOW:  # the small-numbers rule: no rank or band
        assert shown["Quartile"] == shown["vs England"] == ""
        return
    assert shown["Quartile"] == rules.band_words(row["band"], "neither")
    assert shown["Rank"] == f"{row['rank']} of {row['n_ranked']}"
    assert shown["vs England"] == row["significance"]
    page = re.sub(r"\s+", " ", _html(site, query))
    assert f"{row['rank']} of {row['n_ranked']}" in page
    assert row["significance"] in page


def test_england_overview_rebuilds_the_quoted_figures(site: Path) -> None:
    out = publish.render_page("england_overview", site / "_site", engine="fallback")
    page = re.sub(r"\s+", " ", out.read_text(encoding="utf-8"))
    # DfE: 638,745 EHC plans in January 2025; 240,183 in January 2015. MoJ/DfE: appeals 4,108
    # (2014) and 22,276 (2024).
    for text in ("638,745", "240,183", "2.66 times", "22,276 / 4,108", "5.42 times"):
        assert text in page, text
    svgs = re.findall(r"<svg[^>]*>", page)
    assert len(svgs) >= 10 and all('aria-label="' in s for s in svgs)
    quoted = site / "_site" / "figures" / "england__quoted_figures.csv"
    rows = list(csv.DictReader(quoted.open(encoding="utf-8")))
    assert all(len(r["file_sha256"]) == 64 for r in rows)
    # The table is read, not code: no literal Markdown backticks in any cell.
    assert not [r["claim"] for r in rows if "`" in "".join(r.values())]
    table = page[page.index("Figures the SEND debate quotes") :]
    assert "`" not in table[: table.index("</table>")]
    # ASCL quotes 11.5% of pupils on SEN support: the all-schools figure for January 2021 is
    # 12.2%; 11.5% is the secondary-schools figure (LAIT, Special educational needs in England).
    (ascl,) = [r for r in rows if "ASCL" in r["claim"]]
    assert (ascl["period"], ascl["figure"]) == ("January 2021", "12.2%")
    assert "secondary schools, January 2021" in ascl["how"]
    assert "Where children with plans are taught, and support without a plan" in page
    # Money is quoted as people quote it (£10.05bn), the exact sum kept beside it in "how".
    (block,) = [r for r in rows if r["claim"].startswith("High-needs block allocation")]
    assert re.fullmatch(r"£\d+\.\d\dbn", block["figure"]), block["figure"]
    assert block["figure"] == f"£{float(block['value']) / 1e9:.2f}bn"
    assert f"£{float(block['value']):,.0f}" in block["how"]
    assert block["figure"] in page


def test_site_pages_render_as_one_batch_into_the_site_layout(site: Path) -> None:
    """``report --all`` renders the four site pages side by side (one batch), not one by one."""
    out = site / "_pages"
    paths = publish.render_pages(publish.SITE_PAGES, out, engine="fallback")
    assert [p.name for p in paths] == [f"{name}.html" for name in publish.SITE_PAGES]
    for path in paths:
        assert path.parent == out.resolve()
        page = path.read_text(encoding="utf-8")
        assert '<nav class="site-nav" aria-label="Site">' in page and "<script" not in page
    # The pages' figures go beside them (the profiles' go to la/figures).
    assert (out / "figures" / "england__quoted_figures.csv").is_file()
    assert "Figures the SEND debate quotes" in (out / "england_overview.html").read_text()
    with pytest.raises(ValueError, match="unknown page 'about'"):
        publish.render_pages(["about"], out)


def test_figure_command_writes_csv_and_prints_the_method(
    site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sendstats.cli import main

    assert main(["figure", "tribunal_funnel", "--la", "Leeds", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "filter and arithmetic" in out and "sha256 3a0d9e0c3b8d" in out
    rows = list(csv.DictReader((tmp_path / "383__tribunal_funnel.csv").open(encoding="utf-8")))
    leeds = [r for r in rows if r["la_code_dfe"] == "383"]
    assert len(leeds) == 1
    assert float(leeds[0]["value"]) == pytest.approx(
        float(leeds[0]["numerator"]) / float(leeds[0]["denominator"]) * 100
    )
    assert main(["figure", "ehcp_trend_indexed"]) == 1  # needs an LA: a clear error, no trace
    assert "give --la" in capsys.readouterr().err


@pytest.mark.parametrize("query", LAS)
def test_profile_page_names_the_la_links_the_site_and_says_each_caveat_once(
    site: Path, query: str
) -> None:
    la = geography.resolve_la(query)
    page = _html(site, query)
    title = f"{la.la_name}: SEND profile"
    assert f"<title>{title}</title>" in page
    assert re.search(rf'<h1 class="title">{re.escape(title)}</h1>', page)
    for href in ("../index.html", "../england_overview.html", "../methods.html"):
        assert f'href="{href}"' in page
    box = page[page.index('id="notes-and-caveats"') :]
    box = box[: box.index("Made with sendstats")]
    bullets = re.findall(r"<li>(.*?)</li>", box, re.S)
    # The reading rules (3) and this LA's caveats, each once (Kent's box once had 32 to 40).
    assert len(bullets) == len(set(bullets)) and 4 <= len(bullets) <= 16, len(bullets)
    assert f"Caveats for {la.la_name}" in box
    if la.la_name == "Kent":  # another area's caveat (Dorset's 2024 timeliness) is not Kent's
        assert "classed all new plans as exceptions" not in box
        assert len(bullets) < 15
    # One-line captions: the recipe and the sha256 live in the collapsed block only.
    for caption in re.findall(r'<div class="figure-source">(.*?)</div>', page, re.S):
        assert "sha256" not in caption and "`" not in caption
    if la.la_name == "Isles of Scilly":
        assert "fewer than 10 cases" in page


@pytest.mark.parametrize("query", LAS)
def test_profile_states_placement_mix_and_sen_support_from_metric_tables(
    site: Path, query: str
) -> None:
    la = geography.resolve_la(query)
    page = re.sub(r"\s+", " ", _html(site, query))
    for table, metric_id, words in (
        ("placements", "plans_mainstream_pct", "were in mainstream schools"),
        ("sen_support", "sen_support_pupils_pct", "of pupils in"),
    ):
        rows = pl.read_parquet(site / "data" / "metrics" / f"{table}.parquet").filter(
            pl.col("metric_id") == metric_id,
            pl.col("la_code_dfe") == la.la_code_dfe,
            pl.col("value").is_not_null(),
        )
        value = rows.sort("year").row(-1, named=True)["value"]
        assert f"<strong>{value:.1f}%</strong> {words}" in page, (metric_id, value)
    assert "DfE’s LAIT (a compilation of DfE statistics)" in page or (
        "DfE's LAIT (a compilation of DfE statistics)" in page
    )
