"""Annual reviews, ceased plans by reason and personal budgets (SEN2, reporting year 2025).

Reads the "All ..." rows of three files of DfE *Education, health and care plans* (2025):

- ``annual_reviews.csv`` (calendar year 2024): plans, reviews expected, review meetings held,
  review decisions and their outcomes, and whether the outcome was sent within 4 weeks. The
  header names ``review_meeting_prior_24`` twice; the data guidance describes one such column,
  so the reader asserts that both hold the same value on every row and keeps one. The data
  guidance (footnote 1) says Blackpool and Reading returned no reviews data and that Waltham
  Forest, Surrey, Redbridge, Hertfordshire and Plymouth were suppressed (``x``): kept as markers.
- ``ceased_plans.csv`` (calendar years 2022 to 2024): plans ceased, by reason.
- ``personal_budgets.csv`` (January 2020 to 2025): plans with a personal budget, by what it
  covers, and plans with organised arrangements.

into one long table ``dfe_sen2__reviews`` in the SEN2 tidy layout, with each measure's
description from the data guidance (``measure_label``) and the file's topic (``topic``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandera.polars as pa
import polars as pl
from pandera.typing.polars import Series

from sendstats.sources.dfe_sen2_tables import SOURCE_ID, Sen2TableTidy
from sendstats.sources.ees import EesFileSpec, read_tidy

TABLE = "dfe_sen2__reviews"
RELEASE = "2025"

#: Raw column -> (measure id, data guidance description), per file.
ANNUAL_REVIEWS: dict[str, tuple[str, str]] = {
    "total_ehc_plans": ("reviews_plans_count", "Total number of EHC plans"),
    "review_expected": ("reviews_expected_count", "Number where annual review expected"),
    "review_not_expected": (
        "reviews_not_expected_count",
        "Number where annual review not expected",
    ),
    "review_meeting_25": (
        "review_meetings_2025_count",
        "Number where annual review meeting recorded in 2025",
    ),
    "review_meeting_24": (
        "review_meetings_2024_count",
        "Number where annual review meeting recorded in 2024",
    ),
    "review_meeting_prior_24": (
        "review_meetings_before_2024_count",
        "Number where annual review meeting recorded prior to 2024",
    ),
    "total_review_meeting": (
        "review_meetings_count",
        "Number with annual review meeting recorded",
    ),
    "no_review_meeting": (
        "review_no_meeting_count",
        "Number with no annual review meeting recorded",
    ),
    "review_decision25": (
        "review_decisions_2025_count",
        "Number where annual review decision recorded in 2025",
    ),
    "review_decision24": (
        "review_decisions_2024_count",
        "Number where annual review decision recorded in 2024",
    ),
    "review_decision_prior24": (
        "review_decisions_before_2024_count",
        "Number where annual review decision recorded prior to 2024",
    ),
    "review_decision_not_due": (
        "review_decisions_not_due_count",
        "Number where annual review decision not yet due",
    ),
    "review_decision_outstanding": (
        "review_decisions_outstanding_count",
        "Number where annual review decision is outstanding",
    ),
    "outcome_amend": ("review_outcome_amend_count", "Number where decision was to amend the plan"),
    "outcome_cease": ("review_outcome_cease_count", "Number where decision was to cease the plan"),
    "outcome_maintan": (
        "review_outcome_maintain_count",
        "Number where the decision was to maintain the plan",
    ),
    "no_outcome": ("review_no_outcome_count", "Number where no outcome is recorded"),
    "number_decsion_4weeks": (
        "review_outcome_within_4_weeks_count",
        "Number where outcome of review communicated within 4 weeks",
    ),
    "number_decision_gt_4weeks": (
        "review_outcome_after_4_weeks_count",
        "Number where outcome of review communicated after 4 weeks",
    ),
    "pc_decsion_4weeks": (
        "review_outcome_within_4_weeks_published_pct",
        "Percentage where outcome of review communicated within 4 weeks",
    ),
}
#: Reasons a plan ceased (``ceased_plans.csv``). The guidance's own wording is kept, including
#: ``not_rec`` = "ceased for other reasons" and ``other`` = "reason is not recorded".
CEASED_REASONS: dict[str, tuple[str, str]] = {
    "max_age": ("ceased_max_age_count", "Number where maximum age reached"),
    "needs_met": (
        "ceased_needs_met_count",
        "Number where educational or training needs met without a plan",
    ),
    "he": ("ceased_higher_education_count", "Number moved to higher education"),
    "employ": ("ceased_employment_count", "Number moved to paid employment"),
    "transfer": ("ceased_transfer_count", "Number transferred to another LA"),
    "no_engage": (
        "ceased_no_longer_engaging_count",
        "Number where young person no longer wishes to engage in education or training",
    ),
    "moved_outside_eng": (
        "ceased_moved_outside_england_count",
        "Number who have moved outside England",
    ),
    "deceased": ("ceased_deceased_count", "Number where child or young person deceased"),
    "not_rec": ("ceased_other_reasons_count", "Number ceased for other reasons"),
    "other": ("ceased_reason_not_recorded_count", "Number where reason is not recorded"),
}
CEASED: dict[str, tuple[str, str]] = {
    **CEASED_REASONS,
    "total_ceased": ("ceased_plans_count", "Total number of ceased EHC plans"),
}
PERSONAL_BUDGETS: dict[str, tuple[str, str]] = {
    "personal_budget": (
        "personal_budgets_count",
        "Total EHC plans with personal budget in place",
    ),
    "org_arrangments": (
        "personal_budgets_organised_arrangements_count",
        "Number with organised arrangements",
    ),
    "pb_education": (
        "personal_budgets_education_only_count",
        "Personal budget covers education only",
    ),
    "pb_health": ("personal_budgets_health_only_count", "Personal budget covers health only"),
    "pb_social": (
        "personal_budgets_social_care_only_count",
        "Personal budget covers social care only",
    ),
    "pb_integrated": (
        "personal_budgets_integrated_count",
        "Personal budget covers any combination of education, health and social care",
    ),
}

#: Measures the publisher derives as residuals (meetings less decisions, and so on): negative
#: for some LAs (as published; e.g. more decisions recorded than meetings).
RESIDUAL_MEASURES = ("review_decisions_outstanding_count", "review_no_outcome_count")

SPECS: dict[str, tuple[EesFileSpec, dict[str, tuple[str, str]]]] = {
    "annual_reviews": (
        EesFileSpec(
            release=RELEASE,
            name="annual_reviews",
            period_type="calendar_year",
            filters={"breakdown_topic": "All annual reviews", "breakdown": "All annual reviews"},
            measures={raw: m for raw, (m, _) in ANNUAL_REVIEWS.items()},
            duplicate_columns=("review_meeting_prior_24",),
            # Outstanding decisions and reviews with no outcome are residuals: negative on
            # some rows (e.g. England, sex unknown: -1), including some LAs' "All" rows.
            residual_columns=("review_decision_outstanding", "no_outcome"),
        ),
        ANNUAL_REVIEWS,
    ),
    "ceased_plans": (
        EesFileSpec(
            release=RELEASE,
            name="ceased_plans",
            period_type="calendar_year",
            filters={
                "breakdown_topic": "All ceased EHC plans",
                "breakdown": "All ceased EHC plans",
            },
            measures={raw: m for raw, (m, _) in CEASED.items()},
        ),
        CEASED,
    ),
    "personal_budgets": (
        EesFileSpec(
            release=RELEASE,
            name="personal_budgets",
            period_type="academic_year",
            filters={
                "breakdown_topic": "All personal budgets",
                "breakdown": "All personal budgets",
            },
            measures={raw: m for raw, (m, _) in PERSONAL_BUDGETS.items()},
        ),
        PERSONAL_BUDGETS,
    ),
}


class ReviewsTidy(Sen2TableTidy):
    """Annual reviews, ceased plans and personal budgets: the SEN2 layout plus labels."""

    value: Series[pl.Float64] = pa.Field(
        nullable=True,
        description=(
            "Published value; null where a marker was published. Only the two residual "
            "measures (decisions outstanding, no outcome recorded) may be negative, as published."
        ),
    )
    topic: Series[str] = pa.Field(
        isin=list(SPECS), description="File the measure comes from (its topic)."
    )
    measure_label: Series[str] = pa.Field(description="The data guidance's description.")

    @pa.dataframe_check
    def only_residuals_negative(cls, data: pa.PolarsData) -> pl.LazyFrame:  # type: ignore[misc]  # noqa: N805
        """Check that only the publisher's residual measures go below zero."""
        return data.lazyframe.select(
            pl.col("measure").is_in(list(RESIDUAL_MEASURES))
            | pl.col("value").is_null()
            | (pl.col("value") >= 0)
        )


TIDY_COLUMNS = list(ReviewsTidy.to_schema().columns)


def required_files() -> list[tuple[str, str]]:
    """Return the (release, file name) pairs :func:`tidy` reads."""
    return [(RELEASE, name) for name in SPECS]


def _labels() -> pl.DataFrame:
    rows = [
        (measure, topic, label)
        for topic, (_, columns) in SPECS.items()
        for measure, label in columns.values()
    ]
    return pl.DataFrame(rows, schema=["measure", "topic", "measure_label"], orient="row")


def tidy(
    paths: dict[tuple[str, str], Path] | dict[tuple[str, str], tuple[Path, str]],
) -> pl.DataFrame:
    """Read the three files into one long table (the build checks its schema).

    Args:
        paths: (release, file name) -> local path (or (path, sha256) as the old build passes).

    Raises:
        RawInputError: a file drifted (including the repeated review column disagreeing), a
            total does not add up.

    """
    frames = []
    for name, (spec, _) in SPECS.items():
        entry = paths[(RELEASE, name)]
        path, sha = entry if isinstance(entry, tuple) else (entry, _sha256(entry))
        frames.append(read_tidy(path, spec, source_id=SOURCE_ID, file_sha256=sha))
    long = pl.concat(frames, how="vertical").join(_labels(), on="measure", how="left")
    out = long.select(TIDY_COLUMNS).sort("measure", "year", "geographic_level", "area_code")
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
