"""Compare the tidy and metric tables of two data folders, to float tolerance.

Used to show that a refactor changed no output: ``python scripts/compare_builds.py OLD NEW``
builds nothing; it reads ``tidy/*.parquet`` and ``metrics/*.parquet`` under both folders and
prints, per table, whether rows, columns (in any order) and values agree (floats within
``--rtol``), exiting 1 on any difference. Tables only in NEW are listed (new steps), not
counted as differences. ``--exact`` asks for more: every table equal by polars
``DataFrame.equals`` (same columns in the same order, same dtypes, same values; nulls equal),
and says whether the two files are also the same bytes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal


def main() -> int:
    """Compare every table of OLD with NEW and print one line per table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--rtol", type=float, default=1e-9)
    parser.add_argument(
        "--exact", action="store_true", help="tables must be equal exactly (DataFrame.equals)"
    )
    args = parser.parse_args()
    bad = 0
    for sub in ("tidy", "metrics"):
        old_tables = {p.name for p in (args.old / sub).glob("*.parquet")}
        new_tables = {p.name for p in (args.new / sub).glob("*.parquet")}
        for name in sorted(old_tables | new_tables):
            if name not in new_tables:
                print(f"{sub}/{name}: MISSING in {args.new}")
                bad += 1
                continue
            if name not in old_tables:
                print(f"{sub}/{name}: new table (not in {args.old})")
                continue
            old = pl.read_parquet(args.old / sub / name)
            new = pl.read_parquet(args.new / sub / name)
            if args.exact:
                same_bytes = (args.old / sub / name).read_bytes() == (
                    args.new / sub / name
                ).read_bytes()
                if old.schema == new.schema and old.equals(new, null_equal=True):
                    files = "same bytes" if same_bytes else "files differ in bytes only"
                    print(
                        f"{sub}/{name}: equal ({new.height:,} rows, {new.width} columns; {files})"
                    )
                else:
                    print(f"{sub}/{name}: NOT EQUAL")
                    bad += 1
                continue
            try:
                assert_frame_equal(
                    old,
                    new,
                    check_exact=False,
                    rel_tol=args.rtol,
                    abs_tol=1e-9,
                    check_column_order=False,
                )
            except AssertionError as exc:
                print(f"{sub}/{name}: DIFFERENT: {str(exc).splitlines()[0]}")
                bad += 1
            else:
                print(f"{sub}/{name}: identical ({new.height:,} rows, {new.width} columns)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
