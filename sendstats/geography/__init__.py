"""LA geography: one crosswalk of English upper-tier LAs, code harmonisation and vintages.

Public API (see the submodules for details and the map formats):

- :mod:`~sendstats.geography.crosswalk`: :class:`LocalAuthority`, :func:`resolve_la`,
  :func:`list_las`, :func:`region_of`, :func:`gss_history`, :class:`UnknownLAError`.
- :mod:`~sendstats.geography.codes`: :func:`canonical_codes` for any LA-level table.
- :mod:`~sendstats.geography.harmonise`: :func:`harmonise_to_vintage` (one geography vintage).
- :mod:`~sendstats.geography.describe`: :func:`describe_la`, :func:`format_la_list` (CLI text).

Statistical neighbours and comparator groups live in :mod:`sendstats.geography.neighbours`;
population
denominators in :mod:`sendstats.sources.ons_population`.
"""

from __future__ import annotations

from sendstats.geography.codes import LACodeError, canonical_codes
from sendstats.geography.crosswalk import (
    LA_TYPES,
    GssCode,
    LocalAuthority,
    UnknownLAError,
    all_las,
    get_la,
    gss_code_on,
    gss_history,
    list_las,
    match_codes,
    name_variants,
    normalise_name,
    region_of,
    regions,
    resolve_la,
)
from sendstats.geography.describe import describe_la, format_la_list
from sendstats.geography.harmonise import (
    HARMONISATION_LABELS,
    Reorganisation,
    harmonise_to_vintage,
    map_to_vintage,
    reorganisations,
)

__all__ = [
    "HARMONISATION_LABELS",
    "LA_TYPES",
    "GssCode",
    "LACodeError",
    "LocalAuthority",
    "Reorganisation",
    "UnknownLAError",
    "all_las",
    "canonical_codes",
    "describe_la",
    "format_la_list",
    "get_la",
    "gss_code_on",
    "gss_history",
    "harmonise_to_vintage",
    "list_las",
    "map_to_vintage",
    "match_codes",
    "name_variants",
    "normalise_name",
    "region_of",
    "regions",
    "reorganisations",
    "resolve_la",
]
