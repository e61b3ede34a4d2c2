"""One crosswalk of English upper-tier local authorities (LAs) from 2010 on.

Every LA that has published children's-services statistics since 2010 is one record, keyed by
its 3-digit DfE code (``la_code_dfe``, the "old LA code" of DfE files), with every 9-character
ONS GSS code it has had and when, its name variants, region, type, validity dates and
predecessor/successor links. The data live in small CSV maps under ``sendstats/geography/maps/``:

``la.csv`` (one row per LA, 158 rows)
    ``la_code_dfe``: 3-digit DfE code; ``la_code``: the one stable GSS code used for joins
    (see :func:`sendstats.geography.canonical_codes`); ``la_name``: canonical name, the DfE
    explore-education-statistics (EES) spelling of the newest release holding the LA (for
    example ``Bristol, City of``); ``region_code``: ONS region (E12000001..E12000009);
    ``london_part``: ``ILB``/``OLB`` (DfE LAIT's inner/outer London split) for London
    boroughs; ``valid_from``/``valid_to``: ISO dates, empty when the LA exists for the whole
    span from 2010 on / is still in force; ``predecessors``/``successors``: ``;``-separated
    DfE codes of the reorganisation that created / ended the LA.
``la_gss_codes.csv`` (one row per LA and GSS code period)
    ``la_code_dfe``, ``gss_code``, ``valid_from``, ``valid_to``, ``kind`` (``ons``: the code
    ONS assigned for that period; ``dfe_alias``: a code DfE files keep using after ONS
    changed it, e.g. North Yorkshire's county code E10000023 after April 2023) and ``note``.
``la_name_variants.csv``
    ``la_code_dfe``, ``name`` (a publisher spelling) and ``source`` (which file spells it so).
``regions.csv``
    ``region_code``, ``region_name`` (EES spelling) and ``region_code_dfe``.

Built from (and tested against) the DfE LAIT LA list, the ONS LTLA-to-UTLA (December 2022)
and LAD-to-CTYUA (December 2024) lookups and the LA codes of every held DfE, MoJ, NHS and ONS
file. Resolution is exact after normalising case, punctuation and footnote digits: difflib is
used only to *suggest* names in error messages, never to resolve.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

MAPS_DIR = Path(__file__).resolve().parent / "maps"

_GSS = re.compile(r"^[EWSN]\d{8}$")
_DFE = re.compile(r"^(\d{3})(?:\.0+)?$")
# MoJ tribunal tables append footnote markers to names ("Cumbria8", "England Total4,9").
_FOOTNOTE = re.compile(r"[\d,\s]+$")
_TYPE_BY_PREFIX = {"E06": "UA", "E10": "SC", "E08": "MD"}
LA_TYPES = {
    "UA": "unitary authority",
    "SC": "shire county",
    "MD": "metropolitan district",
    "ILB": "inner London borough",
    "OLB": "outer London borough",
}


class UnknownLAError(LookupError):
    """A query matched no LA, or more than one, or an LA not in force on the date asked."""

    def __init__(self, query: str, candidates: Sequence[str], reason: str = "") -> None:
        self.query = query
        self.candidates = tuple(candidates)
        self.reason = reason or "no local authority matches"
        hint = f"; candidates: {', '.join(self.candidates)}" if self.candidates else ""
        super().__init__(f"{self.reason}: {query!r}{hint}")


@dataclass(frozen=True)
class GssCode:
    """One 9-character ONS code an LA has had, with the period it was in force."""

    gss_code: str
    valid_from: dt.date | None
    valid_to: dt.date | None
    kind: str
    note: str


@dataclass(frozen=True)
class LocalAuthority:
    """An English upper-tier LA as of one date (or, when no date is given, for joins).

    ``la_code`` is the GSS code ONS had in force on the date asked; when no date is given it
    is the stable join code of :func:`sendstats.geography.canonical_codes` (E06000060 for
    Buckinghamshire, E06000065 North Yorkshire, E06000066 Somerset, E08000016/E08000019 for
    Barnsley/Sheffield). ``la_type`` follows that code (UA, SC, MD, ILB, OLB).
    """

    la_code: str
    la_code_dfe: str
    la_name: str
    region_code: str
    region_name: str
    la_type: str
    valid_from: dt.date | None
    valid_to: dt.date | None
    successors: tuple[str, ...]
    predecessors: tuple[str, ...]

    def is_valid_on(self, on: dt.date) -> bool:
        """Return True when the LA was in force on ``on``."""
        return _in_force(self.valid_from, self.valid_to, on)


@dataclass(frozen=True)
class _Record:
    la_code_dfe: str
    la_code: str
    la_name: str
    region_code: str
    london_part: str
    valid_from: dt.date | None
    valid_to: dt.date | None
    predecessors: tuple[str, ...]
    successors: tuple[str, ...]


def _parse_date(text: str) -> dt.date | None:
    return dt.date.fromisoformat(text) if text.strip() else None


def _split_codes(text: str) -> tuple[str, ...]:
    return tuple(c for c in text.split(";") if c)


def _in_force(start: dt.date | None, end: dt.date | None, on: dt.date) -> bool:
    return (start is None or start <= on) and (end is None or on <= end)


def _read_map(name: str) -> list[dict[str, str]]:
    with (MAPS_DIR / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@cache
def _records() -> dict[str, _Record]:
    out: dict[str, _Record] = {}
    for row in _read_map("la.csv"):
        out[row["la_code_dfe"]] = _Record(
            la_code_dfe=row["la_code_dfe"],
            la_code=row["la_code"],
            la_name=row["la_name"],
            region_code=row["region_code"],
            london_part=row["london_part"],
            valid_from=_parse_date(row["valid_from"]),
            valid_to=_parse_date(row["valid_to"]),
            predecessors=_split_codes(row["predecessors"]),
            successors=_split_codes(row["successors"]),
        )
    return out


@cache
def _regions() -> dict[str, str]:
    return {row["region_code"]: row["region_name"] for row in _read_map("regions.csv")}


@cache
def _gss_history() -> dict[str, tuple[GssCode, ...]]:
    hist: dict[str, list[GssCode]] = {}
    for row in _read_map("la_gss_codes.csv"):
        code = GssCode(
            gss_code=row["gss_code"],
            valid_from=_parse_date(row["valid_from"]),
            valid_to=_parse_date(row["valid_to"]),
            kind=row["kind"],
            note=row["note"],
        )
        hist.setdefault(row["la_code_dfe"], []).append(code)
    return {k: tuple(v) for k, v in hist.items()}


@cache
def _gss_index() -> dict[str, frozenset[str]]:
    index: dict[str, set[str]] = {}
    for dfe, codes in _gss_history().items():
        for code in codes:
            index.setdefault(code.gss_code, set()).add(dfe)
    return {k: frozenset(v) for k, v in index.items()}


@cache
def _name_variants() -> dict[str, tuple[str, ...]]:
    names: dict[str, list[str]] = {dfe: [rec.la_name] for dfe, rec in _records().items()}
    for row in _read_map("la_name_variants.csv"):
        if row["name"] not in names[row["la_code_dfe"]]:
            names[row["la_code_dfe"]].append(row["name"])
    return {k: tuple(v) for k, v in names.items()}


@cache
def _name_index() -> dict[str, frozenset[str]]:
    index: dict[str, set[str]] = {}
    for dfe, names in _name_variants().items():
        for name in names:
            index.setdefault(normalise_name(name), set()).add(dfe)
    return {k: frozenset(v) for k, v in index.items()}


def normalise_name(name: str) -> str:
    """Return the matching key of an LA name: case, accents, punctuation and footnotes removed.

    ``"St. Helens"``, ``"st helens"`` and ``"St Helens3"`` all give ``"st helens"``;
    ``"Bristol, City of"`` gives ``"bristol city of"``.
    """
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = _FOOTNOTE.sub("", text.strip())
    text = text.lower().replace("&", " and ")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def normalise_dfe_code(value: str) -> str | None:
    """Return a 3-digit DfE code from text such as ``"838"`` or ``"838.0"``, else None."""
    match = _DFE.match(value.strip())
    return match.group(1) if match else None


def gss_history(la_code_dfe: str) -> tuple[GssCode, ...]:
    """Return every GSS code the LA has had (ONS codes and DfE aliases), oldest first."""
    _record(la_code_dfe)
    return _gss_history()[la_code_dfe]


def gss_code_on(la_code_dfe: str, on: dt.date) -> str:
    """Return the ONS GSS code in force for the LA on ``on``."""
    for code in gss_history(la_code_dfe):
        if code.kind == "ons" and _in_force(code.valid_from, code.valid_to, on):
            return code.gss_code
    raise UnknownLAError(la_code_dfe, [], f"LA not in force on {on.isoformat()}")


def name_variants(la_code_dfe: str) -> tuple[str, ...]:
    """Return the canonical name then every publisher spelling held for the LA."""
    _record(la_code_dfe)
    return _name_variants()[la_code_dfe]


def region_of(la_code_dfe: str) -> tuple[str, str]:
    """Return ``(region_code, region_name)`` of an LA, e.g. ``("E12000006", "East of England")``."""
    rec = _record(la_code_dfe)
    return rec.region_code, _regions()[rec.region_code]


def regions() -> dict[str, str]:
    """Return the nine English regions, ``{region_code: region_name}``."""
    return dict(_regions())


def _record(la_code_dfe: str) -> _Record:
    try:
        return _records()[la_code_dfe]
    except KeyError:
        raise UnknownLAError(la_code_dfe, [], "no LA with DfE code") from None


def _build(rec: _Record, on: dt.date | None) -> LocalAuthority:
    code = gss_code_on(rec.la_code_dfe, on) if on is not None else rec.la_code
    la_type = rec.london_part if code.startswith("E09") else _TYPE_BY_PREFIX[code[:3]]
    return LocalAuthority(
        la_code=code,
        la_code_dfe=rec.la_code_dfe,
        la_name=rec.la_name,
        region_code=rec.region_code,
        region_name=_regions()[rec.region_code],
        la_type=la_type,
        valid_from=rec.valid_from,
        valid_to=rec.valid_to,
        successors=rec.successors,
        predecessors=rec.predecessors,
    )


def get_la(la_code_dfe: str, on: dt.date | None = None) -> LocalAuthority:
    """Return the LA with a known 3-digit DfE code (no date check), as of ``on``."""
    rec = _record(la_code_dfe)
    if on is not None and not _in_force(rec.valid_from, rec.valid_to, on):
        on = rec.valid_to or rec.valid_from
    return _build(rec, on)


def match_codes(query: str) -> frozenset[str]:
    """Return the DfE codes a query could mean (by GSS code, DfE code or any name variant)."""
    text = query.strip()
    if _GSS.match(text.upper()):
        return _gss_index().get(text.upper(), frozenset())
    dfe = normalise_dfe_code(text)
    if dfe is not None:
        return frozenset({dfe}) if dfe in _records() else frozenset()
    return _name_index().get(normalise_name(text), frozenset())


def _describe(codes: Iterable[str]) -> list[str]:
    out = []
    for dfe in codes:
        rec = _records()[dfe]
        span = ""
        if rec.valid_from or rec.valid_to:
            start = rec.valid_from.isoformat() if rec.valid_from else ""
            end = rec.valid_to.isoformat() if rec.valid_to else ""
            span = f", {start}..{end}"
        out.append(f"{rec.la_name} ({dfe}{span})")
    return out


def _suggest(query: str) -> list[str]:
    """Return up to five close names (for the error message only; never used to resolve)."""
    text = normalise_name(query)
    if not text:
        return []
    scored = []
    for key in _name_index():
        whole = difflib.SequenceMatcher(None, text, key).ratio()
        start = difflib.SequenceMatcher(None, text, key[: len(text)]).ratio()
        scored.append((max(whole, start), key))
    keys = [key for score, key in sorted(scored, reverse=True)[:5] if score >= 0.6]
    codes: list[str] = []
    for key in keys:
        codes.extend(c for c in sorted(_name_index()[key]) if c not in codes)
    return _describe(codes)


def resolve_la(query: str, on: dt.date | None = None) -> LocalAuthority:
    """Resolve a GSS code, 3-digit DfE code or any name variant to exactly one LA.

    Matching ignores case, punctuation and trailing footnote digits, but never guesses: a
    name two LAs have shared (``Dorset``: 835 to March 2019, 838 from April 2019) is decided
    by ``on``, or, when ``on`` is None, by which LA is in force today.

    Args:
        query: ``"E06000023"``, ``"801"``, ``"bristol city of"``, ``"Cumbria8"`` ...
        on: the date the LA must be in force on; also sets which GSS code ``la_code`` holds.

    Raises:
        UnknownLAError: nothing matches (close names suggested), several LAs match, or the
            only match was not in force on ``on`` (its successors or predecessors listed).

    """
    codes = match_codes(query)
    if not codes:
        raise UnknownLAError(query, _suggest(query))
    when = on if on is not None else dt.date.today()
    live = [
        c
        for c in sorted(codes)
        if _in_force(_records()[c].valid_from, _records()[c].valid_to, when)
    ]
    if len(live) == 1:
        return _build(_records()[live[0]], on)
    if len(codes) == 1 and on is None:
        return _build(_records()[next(iter(codes))], None)
    if not live:
        linked = set(codes)
        for c in codes:
            linked |= set(_records()[c].successors) | set(_records()[c].predecessors)
        reason = f"no LA in force on {when.isoformat()}"
        raise UnknownLAError(query, _describe(sorted(linked)), reason)
    raise UnknownLAError(query, _describe(live), "ambiguous LA")


def list_las(on: dt.date) -> list[LocalAuthority]:
    """Return every LA in force on ``on``, ordered by DfE code (152, 151, 152 or 153 LAs)."""
    return list(_las_on(on))


@cache
def _las_on(on: dt.date) -> tuple[LocalAuthority, ...]:
    """Return :func:`list_las` once per date (the metric steps ask for the same few dates)."""
    recs = [r for r in _records().values() if _in_force(r.valid_from, r.valid_to, on)]
    return tuple(_build(r, on) for r in sorted(recs, key=lambda r: r.la_code_dfe))


def all_las() -> list[LocalAuthority]:
    """Return every LA held from 2010 on, current and abolished, with their join codes."""
    return [_build(r, None) for r in sorted(_records().values(), key=lambda r: r.la_code_dfe)]
