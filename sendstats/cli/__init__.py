"""The ``sendstats`` command: thin wrappers that parse arguments and call one function each."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence

from sendstats.core.version import __version__

DESCRIPTION = """\
Rebuild the figures of the English SEND debate from the publishers' open data and benchmark
every local authority. Typical use, offline from a raw archive:

  SENDSTATS_ARCHIVE=../shared/data/raw sendstats build --offline
  sendstats report --la Leeds

Data go to ./data (SENDSTATS_DATA_DIR), reports to ./_site (--out).
"""


def _parse_date(text: str) -> dt.date:
    """Accept a date (2023-06-30) or a release year (2023 = the end of June of that year)."""
    if len(text) == 4 and text.isdigit():
        return dt.date(int(text), 6, 30)
    return dt.date.fromisoformat(text)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sendstats",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"sendstats {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("sources", help="list declared sources, releases and pinned files")
    s.add_argument(
        "--files", action="store_true", help="also list every file (pinned, or 'unpinned')"
    )

    f = sub.add_parser("fetch", help="resolve pinned raw files: cache, raw archive, then download")
    f.add_argument("sources", nargs="*", metavar="SOURCE", help="source ids (default: all)")
    f.add_argument("--offline", action="store_true", help="never touch the network")
    f.add_argument(
        "--release",
        action="append",
        metavar="LABEL",
        help="only this release (repeatable); also fetches its files declared without a pin",
    )
    f.add_argument(
        "--include-unpinned",
        action="store_true",
        help="also fetch files declared without a pin (sha256: null) and propose their pins",
    )
    f.add_argument(
        "--update-pins",
        action="store_true",
        help="accept changed upstream files and print the declaration diff to commit",
    )
    f.add_argument(
        "--write-pins",
        action="store_true",
        help="write the proposed sha256/bytes (new upstream or unpinned files) into the YAML",
    )

    b = sub.add_parser(
        "build", help="raw -> validated tidy tables -> metrics (skips unchanged steps)"
    )
    b.add_argument("--offline", action="store_true", help="never touch the network")
    b.add_argument("--force", action="store_true", help="rerun every step")
    b.add_argument(
        "--as-of",
        type=_parse_date,
        metavar="DATE",
        help="use only releases published by DATE (YYYY-MM-DD, or a year meaning 30 June)",
    )

    r = sub.add_parser("report", help="render the LA profile (Quarto if on PATH, else fallback)")
    who = r.add_mutually_exclusive_group(required=True)
    who.add_argument("--la", help="LA name, 9-character GSS code or 3-digit DfE code")
    who.add_argument("--all", action="store_true", help="every LA with data (batch, 2 workers)")
    who.add_argument(
        "--page", choices=["index", "england_overview", "revisions", "methods"], help="a site page"
    )
    r.add_argument("--to", choices=["html", "pdf"], default="html", help="output format")
    r.add_argument("--out", default="_site", help="output folder (default: _site)")
    r.add_argument(
        "--engine",
        choices=["auto", "quarto", "fallback"],
        default="auto",
        help="renderer (default: quarto when on PATH)",
    )
    r.add_argument("--offline", action="store_true", help="build offline first if needed")

    d = sub.add_parser("diff", help="every value a newer release revised, largest first")
    d.add_argument("source", help="source id, e.g. dfe_sen2")
    d.add_argument("old", help="older release label, e.g. 2023")
    d.add_argument("new", help="newer release label, e.g. 2025")
    d.add_argument("--csv", metavar="PATH", help="also write every revision as CSV")
    d.add_argument("--la", help="only this LA (name or code)")
    d.add_argument("--limit", type=int, default=20, help="rows to print (default 20)")

    c = sub.add_parser("compare", help="an LA's latest value of each metric against comparators")
    c.add_argument("la", help="LA name, 9-character GSS code or 3-digit DfE code")
    c.add_argument(
        "--metric", action="append", metavar="ID", help="metric id (repeatable; default: all)"
    )
    c.add_argument("--sn-set", choices=["2021", "2025"], default="2025", help="SN set shown")
    c.add_argument("--csv", metavar="PATH", help="also write the benchmark rows as CSV")
    c.add_argument(
        "--group",
        metavar="LAS",
        help="also compare with these LAs (comma-separated names or codes)",
    )
    c.add_argument(
        "--averaging",
        choices=["pooled", "mean", "median"],
        default="pooled",
        help="how --group is averaged (default: pooled, sum / sum)",
    )

    g = sub.add_parser("figure", help="write a figure's data as CSV and print how it was made")
    g.add_argument("figure_id", nargs="?", help="figure id (see --list)")
    g.add_argument("--la", help="LA name, GSS or 3-digit DfE code")
    g.add_argument("--out", default=".", help="folder for the CSV (default: here)")
    g.add_argument("--list", action="store_true", help="list every figure id")

    la = sub.add_parser("la", help="show an LA: codes over time, region, neighbours, population")
    la.add_argument("query", nargs="?", help="LA name or code")
    la.add_argument("--list", action="store_true", help="list all LAs in force on --date")
    la.add_argument("--date", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD")
    return p


def _cmd_sources(args: argparse.Namespace) -> int:
    from sendstats.acquire import catalog

    print(catalog.describe_sources(files=args.files))
    return 0


def _cmd_fetch(args: argparse.Namespace) -> int:
    from sendstats.acquire import fetch

    if args.write_pins and not (args.update_pins or args.include_unpinned or args.release):
        print(
            "sendstats fetch: --write-pins needs --update-pins, --include-unpinned or --release",
            file=sys.stderr,
        )
        return 2
    results = fetch.fetch_sources(
        args.sources or None,
        releases=args.release,
        include_unpinned=args.include_unpinned,
        offline=args.offline or None,
        update_pins=args.update_pins,
        write_pins=args.write_pins,
    )
    for r in results:
        print(f"{r.route:<8} {r.source}/{r.release}/{r.name}  sha256 {r.sha256[:12]}  {r.path}")
    _, left_out = fetch.select_files(args.sources or None, args.release)
    if left_out and not args.include_unpinned:
        print(
            f"{len(left_out)} declared file(s) without a pin not fetched (see `sendstats sources "
            "--files`); fetch them with --include-unpinned or --release LABEL",
            file=sys.stderr,
        )
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    from sendstats.pipeline import build

    report = build.build(offline=args.offline or None, as_of=args.as_of, force=args.force)
    print(report.summary())
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sendstats.pipeline import build
    from sendstats.render import publish

    build.build(offline=args.offline or None)
    if args.page:
        out = publish.render_page(args.page, Path(args.out), engine=args.engine, to=args.to)
        print(f"wrote {out}")
        return 0
    if args.all:
        outs = publish.render_all_profiles(Path(args.out), engine=args.engine, to=args.to)
        print(f"wrote {len(outs)} profiles to {Path(args.out) / 'la'}")
        if args.to == "html":
            for page in publish.SITE_PAGES:
                print(f"wrote {publish.render_page(page, Path(args.out), engine=args.engine)}")
        return 0
    out = publish.render_la_profile(args.la, Path(args.out), engine=args.engine, to=args.to)
    print(f"wrote {out}")
    return 0


def _cmd_diff(args: argparse.Namespace) -> int:
    import polars as pl

    from sendstats import geography
    from sendstats.metrics import revisions

    diff = revisions.diff_releases(revisions.tidy_table(args.source), args.old, args.new)
    if args.la:
        code = geography.resolve_la(args.la).la_code_dfe
        la_codes = revisions.tidy_table(args.source).filter(pl.col("la_code_dfe") == code)
        diff = diff.filter(pl.col("area_code").is_in(la_codes["area_code"].unique().to_list()))
    if args.csv:
        diff.write_csv(args.csv)
    print(f"{diff.height:,} values revised between releases {args.old} and {args.new}")
    print(revisions.summarise(diff))
    with pl.Config(tbl_rows=args.limit, tbl_cols=12, tbl_width_chars=160):
        print(diff.head(args.limit))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from sendstats import geography
    from sendstats.benchmarking.api import load_benchmarks
    from sendstats.benchmarking.text import compare_text

    group = None
    if args.group:
        from sendstats.geography.neighbours import custom_group

        names = [q.strip() for q in args.group.split(",") if q.strip()]
        group = custom_group(names, f"Group ({args.averaging})", args.averaging)
    print(compare_text(args.la, args.metric, args.sn_set, group))
    if args.csv:
        code = geography.resolve_la(args.la).la_code_dfe
        load_benchmarks(args.metric, code).write_csv(args.csv)
        print(f"wrote {args.csv}")
    return 0


def _cmd_figure(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sendstats.report.figures import export

    if args.list or not args.figure_id:
        print(export.list_figures())
        return 0
    _, text = export.write_figure(args.figure_id, args.la, Path(args.out))
    print(text)
    return 0


def _cmd_la(args: argparse.Namespace) -> int:
    from sendstats import geography

    if args.list:
        print(geography.format_la_list(args.date or dt.date.today()))
        return 0
    if not args.query:
        print("sendstats la: give an LA name or code, or --list", file=sys.stderr)
        return 2
    print(geography.describe_la(args.query))
    return 0


COMMANDS = {
    "sources": _cmd_sources,
    "fetch": _cmd_fetch,
    "build": _cmd_build,
    "report": _cmd_report,
    "la": _cmd_la,
    "diff": _cmd_diff,
    "compare": _cmd_compare,
    "figure": _cmd_figure,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; known errors print one clear message and exit 1."""
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except Exception as exc:
        # Imported only on failure: the error classes pull in heavy modules (pandera, nbclient).
        from sendstats.cli.errors import KNOWN_ERRORS

        if not isinstance(exc, KNOWN_ERRORS):
            raise
        print(f"sendstats {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
