"""The sendstats version, and the versions of the libraries that shape its outputs.

Both are recorded with every output in the manifest; the version and the output libraries are
part of every step's fingerprint.
"""

from __future__ import annotations

from functools import cache

__version__ = "0.1.0"

#: Libraries whose version can change a table (part of each step's fingerprint).
OUTPUT_LIBRARIES: tuple[str, ...] = ("polars", "pandera")
#: Libraries whose version can change a table or a picture (recorded in the manifest).
RECORDED_LIBRARIES: tuple[str, ...] = (
    *OUTPUT_LIBRARIES,
    "altair",
    "vl-convert-python",
    "great-tables",
)


@cache
def library_versions() -> dict[str, str]:
    """Return the installed version of each recorded library ("not installed" if absent)."""
    from importlib import metadata  # imported on use: a no-op build never needs it

    out = {}
    for name in RECORDED_LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out
