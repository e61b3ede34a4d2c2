"""The ``sendstats`` command: thin wrappers that parse arguments and call one function each."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from sendstats.core.version import __version__

DESCRIPTION = """\
Rebuild the figures of the English SEND debate from the publishers' open data and benchmark
every local authority. Typical use, offline from a raw archive:

  SENDSTATS_ARCHIVE=../shared/data/raw sendstats build --offline
  sendstats report --la Leeds

Data go to ./data (SENDSTATS_DATA_DIR), reports to ./_site (--out).
"""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming what to fix (and exit status 2)."""

    def error(self, message: str) -> NoReturn:
        """Print ``sendstats CMD: error: ...`` and where to find help, then exit 2."""
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _parse_date(text: str) -> dt.date:
    """Accept a date (2023-06-30) or a release year (2023 = the end of June of that year)."""
    if len(text) == 4 and text.isdigit():
        return dt.date(int(text), 6, 30)
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date: give YYYY-MM-DD (e.g. 2023-06-30) or a year (2023)"
        ) from None


def _parse_day(text: str) -> dt.date:
    """Accept a date written YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date: give YYYY-MM-DD (e.g. 2024-04-01)"
        ) from None


def _positive(text: str) -> int:
    """Accept a whole number of 1 or more."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return int(text)


def _command(
    sub: Any, name: str, summary: str, description: str, examples: Sequence[str]
) -> argparse.ArgumentParser:
    """Add a subcommand whose ``--help`` shows a description and examples."""
    epilog = "examples:\n" + "\n".join(f"  {e}" for e in examples)
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="sendstats",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"sendstats {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    s = _command(
        sub,
        "sources",
        "list declared sources, releases and pinned files",
        "List every declared source (data_sources/*.yaml): publisher, releases and the files\n"
        "each pins by sha256.",
        ["sendstats sources", "sendstats sources --files"],
    )
    s.add_argument(
        "--files", action="store_true", help="also list every file (pinned, or 'unpinned')"
    )

    f = _command(
        sub,
        "fetch",
        "resolve pinned raw files: cache, raw archive, then download",
        "Resolve each pinned raw file: the data folder's cache, then the raw archive\n"
        "(SENDSTATS_ARCHIVE), then a download, each checked against its sha256.",
        ["sendstats fetch --offline", "sendstats fetch dfe_sen2 --release 2025"],
    )
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

    b = _command(
        sub,
        "build",
        "raw -> validated tidy tables -> metrics (skips unchanged steps)",
        "Read the pinned raw files into validated tidy tables, then metrics and benchmarks,\n"
        "in the data folder (SENDSTATS_DATA_DIR, else ./data). Steps whose inputs and code\n"
        "did not change are skipped.",
        [
            "SENDSTATS_ARCHIVE=../shared/data/raw sendstats build --offline",
            "sendstats build --offline --as-of 2023   # releases published by 30 June 2023",
        ],
    )
    b.add_argument("--offline", action="store_true", help="never touch the network")
    b.add_argument("--force", action="store_true", help="rerun every step")
    b.add_argument(
        "--as-of",
        type=_parse_date,
        metavar="DATE",
        help="use only releases published by DATE (YYYY-MM-DD, or a year meaning 30 June)",
    )

    r = _command(
        sub,
        "report",
        "render the LA profile (Quarto if on PATH, else fallback)",
        "Build the data if needed, then render an LA profile, every profile, or a site page\n"
        "to HTML or PDF.",
        [
            "sendstats report --la Leeds",
            "sendstats report --la 886 --to pdf --out site",
            "sendstats report --page england_overview",
        ],
    )
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

    d = _command(
        sub,
        "diff",
        "every value a newer release revised, largest first",
        "Compare two releases of a source value by value: revised numbers (largest first),\n"
        "and, counted apart, values that became suppressed or were published where a marker\n"
        "was. Reads the built tidy table (run `sendstats build` first).",
        [
            "sendstats diff dfe_sen2 2023 2025",
            "sendstats diff dfe_sen2 2023 2025 --la Camden --csv revisions.csv",
        ],
    )
    d.add_argument("source", help="source id, e.g. dfe_sen2")
    d.add_argument("old", help="older release label, e.g. 2023")
    d.add_argument("new", help="newer release label, e.g. 2025")
    d.add_argument("--csv", metavar="PATH", help="also write every revision as CSV")
    d.add_argument("--la", help="only this LA (name or code)")
    d.add_argument("--limit", type=_positive, default=20, help="revisions listed (default 20)")

    c = _command(
        sub,
        "compare",
        "an LA's latest value of each metric against comparators",
        "Show an LA's latest value of each metric beside England, its region and its\n"
        "statistical neighbours, with rank, band and change, grouped by theme (100 columns).",
        [
            "sendstats compare Kent",
            "sendstats compare 886 --metric ehc_plans_count --metric requests_refused_pct",
            'sendstats compare Leeds --group "Bradford,Kirklees,Wakefield" --averaging median',
        ],
    )
    c.add_argument("la", help="LA name, 9-character GSS code or 3-digit DfE code")
    c.add_argument(
        "--metric", action="append", metavar="ID", help="metric id (repeatable; default: all)"
    )
    c.add_argument("--sn-set", choices=["2021", "2025"], default="2025", help="SN set shown")
    c.add_argument("--csv", metavar="PATH", help="also write the benchmark rows as CSV")
    c.add_argument("--ids", action="store_true", help="name metrics by id, not by title")
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

    g = _command(
        sub,
        "figure",
        "write a figure's data as CSV and print how it was made",
        "Write the data behind one report figure as CSV and print its recipe: sources,\n"
        "filters and arithmetic.",
        ["sendstats figure --list", "sendstats figure ehcp_rate_per_10k --la Kent --out ."],
    )
    g.add_argument("figure_id", nargs="?", help="figure id (see --list)")
    g.add_argument("--la", help="LA name, GSS or 3-digit DfE code")
    g.add_argument("--out", default=".", help="folder for the CSV (default: here)")
    g.add_argument("--list", action="store_true", help="list every figure id")

    la = _command(
        sub,
        "la",
        "show an LA: codes over time, region, neighbours, population",
        "Describe an LA from the geography crosswalk (codes over time, region, predecessors\n"
        "and successors, statistical neighbours), or list the LAs in force on a date.",
        ["sendstats la Cumbria", "sendstats la --list --date 2023-04-01"],
    )
    la.add_argument("query", nargs="?", help="LA name or code")
    la.add_argument("--list", action="store_true", help="list all LAs in force on --date")
    la.add_argument("--date", type=_parse_day, default=None, help="YYYY-MM-DD (default: today)")
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


def _check_as_of(as_of: dt.date | None) -> None:
    """Refuse an ``--as-of`` date before the first release of a source it selects from."""
    if as_of is None:
        return
    from sendstats.acquire import catalog
    from sendstats.cli.usage import UsageError
    from sendstats.pipeline.table import AS_OF_SOURCES

    for source_id in AS_OF_SOURCES:
        first = min(r.date_published for r in catalog.get_source(source_id).releases)
        if as_of < first:
            raise UsageError(
                f"--as-of {as_of.isoformat()} is before the first release of {source_id} "
                f"({first.isoformat()}): give a date on or after it"
            )


def _require_built(*relative: str) -> None:
    """Refuse, naming the folder looked in and how to point elsewhere, when data is not built."""
    from sendstats.cli.usage import UsageError
    from sendstats.core import config

    folder = config.data_dir()
    missing = [r for r in relative if not (folder / r).is_file()]
    if missing:
        where = (
            "SENDSTATS_DATA_DIR"
            if "SENDSTATS_DATA_DIR" in os.environ
            else "./data, as SENDSTATS_DATA_DIR is not set"
        )
        raise UsageError(
            f"no built data in {folder} ({where}; {missing[0]} missing): run `sendstats build "
            "--offline` there first, or set SENDSTATS_DATA_DIR to a data folder that holds a build"
        )


def _cmd_build(args: argparse.Namespace) -> int:
    from sendstats.pipeline import build

    _check_as_of(args.as_of)
    report = build.build(offline=args.offline or None, as_of=args.as_of, force=args.force)
    print(report.summary())
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sendstats.pipeline import build
    from sendstats.render import publish

    def check_build() -> None:  # rebuilds only what changed; usually nothing
        from sendstats.core import config

        done = build.build(offline=args.offline or None).steps
        ran = sum(not step.skipped for step in done)
        if ran:  # a first report builds everything: say so, not just wait
            print(
                f"built {ran} of {len(done)} data steps into {config.data_dir()} "
                "(first build, or their inputs or code changed)",
                file=sys.stderr,
            )

    if args.page:
        out = publish.render_page(
            args.page, Path(args.out), engine=args.engine, to=args.to, prepare=check_build
        )
        print(f"wrote {out}")
        return 0
    if args.all:
        check_build()
        outs = publish.render_all_profiles(Path(args.out), engine=args.engine, to=args.to)
        print(f"wrote {len(outs)} profiles to {Path(args.out) / 'la'}")
        if args.to == "html":
            for page in publish.render_pages(
                publish.SITE_PAGES, Path(args.out), engine=args.engine
            ):
                print(f"wrote {page}")
        return 0
    out = publish.render_la_profile(
        args.la, Path(args.out), engine=args.engine, to=args.to, prepare=check_build
    )
    print(f"wrote {out}")
    return 0


def _cmd_diff(args: argparse.Namespace) -> int:
    import polars as pl

    from sendstats import geography
    from sendstats.cli import diff as diff_cli
    from sendstats.metrics import revisions

    tidy = diff_cli.load(args.source)
    diff_cli.check_releases(tidy, args.source, args.old, args.new)
    diff = revisions.diff_releases(tidy, args.old, args.new)
    if args.la:
        la = geography.resolve_la(args.la)
        codes = tidy.filter(pl.col("la_code_dfe") == la.la_code_dfe)["area_code"].unique()
        diff = diff.filter(pl.col("area_code").is_in(codes.to_list()))
    print(diff_cli.diff_text(diff, args.source, args.old, args.new, args.limit))
    if args.csv:
        diff_cli.classify(diff).write_csv(args.csv)
        print(f"wrote {args.csv}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from sendstats import geography
    from sendstats.benchmarking.api import load_benchmarks
    from sendstats.cli.compare import compare_table
    from sendstats.cli.usage import UsageError

    _require_built("metrics/benchmarks.parquet")
    group = None
    if args.group is not None:
        from sendstats.geography.neighbours import custom_group

        names = [q.strip() for q in args.group.split(",") if q.strip()]
        if not names:
            raise UsageError(
                f"--group {args.group!r} names no LA: give comma-separated LA names or codes, "
                'e.g. --group "Bradford,Kirklees"'
            )
        group = custom_group(names, f"Group ({args.averaging})", args.averaging)
    print(compare_table(args.la, args.metric, args.sn_set, group, ids=args.ids))
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
    _require_built("metrics/benchmarks.parquet")
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
    """Run the command line.

    An error the user can cause (a wrong argument, a bad or missing file, an unknown LA,
    release or metric, a disk or permission error) prints one line naming what to fix and
    exits 1, or 2 for a usage error; any other exception is a bug and keeps its traceback.
    A closed pipe (``sendstats la --list | head``) ends quietly.
    """
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except KeyboardInterrupt:
        print(f"sendstats {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        # Imported only on failure: the error classes pull in heavy modules (pandera, nbclient).
        from sendstats.cli.errors import KNOWN_ERRORS, USAGE_ERRORS, one_line, unreadable_table

        unreadable = unreadable_table(exc)
        if unreadable is not None:
            print(f"sendstats {args.command}: error: {unreadable}", file=sys.stderr)
            return 1
        if not isinstance(exc, KNOWN_ERRORS):
            raise
        print(f"sendstats {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 2 if isinstance(exc, USAGE_ERRORS) else 1


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout already closed or not a real file
        pass


if __name__ == "__main__":
    raise SystemExit(main())
