"""The step table: every build step as data (what it reads, runs, writes and checks).

The build order, what reruns and what the manifest says each output was made from all follow
from this table; the runner (:mod:`sendstats.pipeline.build`) has no knowledge of any source or
theme. A new source or metric table adds one :class:`Step` here.

A step reads either the pinned files of one or more sources (``sources``: its function gets
``paths``, a dict ``(release, file) -> (path, sha256)`` of the files the source module lists in
``required_files()``), or the tables of earlier steps (``after``: its function gets their frames,
in that order, as positional arguments), never both. ``params`` are keyword arguments, part of
the step's fingerprint. ``schema`` names the pandera model or ``validate(df, path)`` function that
the output must pass before it may replace the last good one.

Functions are named by ``"module:function"`` so that the runner imports a module only when its
step runs, and the step's code fingerprint (:mod:`sendstats.pipeline.fingerprint`) covers that
function's module and what it imports from the package, not the whole package.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class Step:
    """One build step: its name, what it reads, the function, the table it writes, its check."""

    name: str
    function: str
    writes: str
    schema: str | None = None
    sources: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    description: str = ""
    #: ``module:function`` listing, from the output, what the step left out and why (for the
    #: build log and the manifest), or None.
    log: str | None = None

    def __post_init__(self) -> None:
        """Refuse a declaration that mixes raw files with step outputs, or reads nothing."""
        if bool(self.sources) == bool(self.after):
            raise ValueError(f"step {self.name!r}: read sources or earlier steps (one of them)")
        if ":" not in self.function:
            raise ValueError(f"step {self.name!r}: function must be 'module:function'")

    @property
    def kind(self) -> str:
        """Return ``tidy`` or ``metrics``: the data folder its output goes to."""
        return self.writes.split("/", 1)[0]

    def declaration(self) -> str:
        """Return the declaration as text, part of the step's fingerprint."""
        params = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return "|".join(
            [
                self.name,
                self.function,
                self.writes,
                self.schema or "",
                *self.sources,
                *self.after,
                params,
            ]
        )


def _tidy(source: str, table: str, function: str, schema: str, description: str) -> Step:
    module = f"sendstats.sources.{source}"
    return Step(
        name=f"tidy:{table}",
        function=f"{module}:{function}",
        writes=f"tidy/{table}.parquet",
        schema=f"{module}:{schema}",
        sources=(source,),
        description=description,
    )


def _metric(
    name: str, function: str, after: tuple[str, ...], description: str, **params: str
) -> Step:
    return Step(
        name=f"metrics:{name}",
        function=function,
        writes=f"metrics/{name}.parquet",
        schema="sendstats.metrics.schema:validate",
        after=after,
        params=MappingProxyType(params),
        description=description,
        log=LEFT_OUT,
    )


#: Every metric table lists the LAs it leaves out of a value or a comparator, and why.
LEFT_OUT = "sendstats.metrics.comparators:left_out"

SEN2 = "tidy:dfe_sen2__ehcp"
TRIBUNAL = "tidy:moj_send_tribunal__appeals"
ASCOF = "tidy:nhs_ascof__ld_employment"
DSG = "tidy:dfe_high_needs__dsg"
POPULATION = "tidy:ons_population__population"

#: Every step of a full build. The runner orders them by what they read.
STEPS: tuple[Step, ...] = (
    _tidy("dfe_sen2", "dfe_sen2__ehcp", "tidy", "Sen2Tidy", "EHC plans, SEN2 releases"),
    _tidy(
        "moj_send_tribunal",
        "moj_send_tribunal__appeals",
        "tidy",
        "TribunalTidy",
        "SEND Tribunal appeals and appealable decisions",
    ),
    _tidy(
        "nhs_ascof",
        "nhs_ascof__ld_employment",
        "tidy",
        "AscofTidy",
        "ASCOF adults with a learning disability in paid work",
    ),
    _tidy("dfe_high_needs", "dfe_high_needs__dsg", "tidy", "HighNeedsTidy", "DSG and high needs"),
    _tidy(
        "ons_population",
        "ons_population__population",
        "tidy",
        "PopulationBand",
        "ONS mid-year population by LA and age band",
    ),
    _metric("ehcp", "sendstats.metrics.ehcp:compute", (SEN2,), "EHC plan metrics"),
    _metric("tribunal", "sendstats.metrics.tribunal:compute", (TRIBUNAL,), "Tribunal metrics"),
    _metric("adults", "sendstats.metrics.adults:compute", (ASCOF,), "ASCOF metrics"),
    _metric(
        "rates",
        "sendstats.pipeline.functions:derived_rates",
        ("metrics:ehcp", "metrics:tribunal", POPULATION),
        "EHC plans and appeals per 10,000 aged 0-25",
    ),
    _metric(
        "high_needs",
        "sendstats.pipeline.functions:high_needs",
        (DSG, POPULATION),
        "High needs block, DSG, per head, balance",
    ),
    Step(
        name="metrics:benchmarks",
        function="sendstats.pipeline.functions:benchmarks",
        writes="metrics/benchmarks.parquet",
        schema="sendstats.benchmarking.schema:validate",
        after=(
            "metrics:ehcp",
            "metrics:tribunal",
            "metrics:adults",
            "metrics:rates",
            "metrics:high_needs",
        ),
        description="Every metric benchmarked against England, region and neighbours",
    ),
)


#: Sources whose releases ``--as-of`` selects: the build keeps every release of these, and an
#: as-of build recomputes their metrics "as published" from the releases out by the date.
AS_OF_SOURCES: tuple[str, ...] = ("dfe_sen2",)


def as_of_steps(as_of: str, releases: tuple[str, ...]) -> tuple[Step, ...]:
    """Return the steps of an ``--as-of`` build: EHC plan metrics from the releases out by then."""
    return (
        STEPS[0],
        Step(
            name=f"metrics:ehcp__as_of_{as_of}",
            function="sendstats.pipeline.functions:ehcp_as_of",
            writes=f"metrics/ehcp__as_of_{as_of}.parquet",
            schema="sendstats.metrics.schema:validate",
            after=(SEN2,),
            params=MappingProxyType({"releases": ",".join(releases)}),
            description=f"EHC plan metrics as published by {as_of}",
        ),
    )


def step_named(steps: tuple[Step, ...], name: str) -> Step:
    """Return the step called ``name``."""
    for step in steps:
        if step.name == name:
            return step
    raise KeyError(f"no build step {name!r}")


def ordered(steps: tuple[Step, ...]) -> list[Step]:
    """Return the steps so that each comes after every step it reads (table order otherwise).

    Raises:
        ValueError: a step reads a step that is not in the table, or the reads form a cycle.

    """
    names = {s.name for s in steps}
    done: list[Step] = []
    placed: set[str] = set()
    pending = list(steps)
    while pending:
        ready = [s for s in pending if all(a in placed for a in s.after)]
        if not ready:
            missing = {a for s in pending for a in s.after if a not in names}
            what = f"unknown steps {sorted(missing)}" if missing else "a cycle"
            raise ValueError(f"build steps cannot be ordered: {what}")
        step = ready[0]
        done.append(step)
        placed.add(step.name)
        pending.remove(step)
    return done
