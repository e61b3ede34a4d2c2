"""Publishers' code lists and labels that a source writes and its metrics and reports read.

A source's reader puts these values into its tidy table; the metric layer and the reports name
them to filter and label rows. Keeping them here, below both, lets the layers stay one-way
(metrics and reports never import a reader) while there is still one definition of each.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# --- DfE SEN2, "Education, health and care plans" -------------------------------------------
SEN2_SOURCE_ID = "dfe_sen2"
SEN2_TABLE = "dfe_sen2__ehcp"

#: Primary need codes in ``sen_needs_all_plans.csv`` (column ``number_<code>``) and their names
#: as the data guidance gives them. Down syndrome is counted under "other" (guidance note 1).
PRIMARY_NEEDS: Mapping[str, str] = MappingProxyType(
    {
        "asd": "Autistic spectrum disorder",
        "slcn": "Speech, language and communication needs",
        "semh": "Social, emotional and mental health",
        "mld": "Moderate learning difficulty",
        "sld": "Severe learning difficulty",
        "pd": "Physical disability",
        "spld": "Specific learning difficulty",
        "hi": "Hearing impairment",
        "pmld": "Profound and multiple learning difficulty",
        "oth": "Other difficulty or disability",
        "vi": "Visual impairment",
        "msi": "Multi-sensory impairment",
        "need_unknown": "Primary need not recorded",
    }
)

# --- SEND Tribunal appeal rate tables -------------------------------------------------------
TRIBUNAL_SOURCE_ID = "moj_send_tribunal"
TRIBUNAL_TABLE = "moj_send_tribunal__appeals"
METHOD_2018 = "total_appealable_decisions_2018"
METHOD_ANNUAL_REVIEWS = "total_appealable_decisions_annual_reviews"

#: Methods of counting appealable decisions, named after the publishers' wording.
TRIBUNAL_METHODS: Mapping[str, str] = MappingProxyType(
    {
        METHOD_2018: (
            "Total Appealable Decisions (MoJ/DfE method from the 2018 consultation response, used "
            "for 2014-2024): the sum, from the DfE SEN2 return, of initial requests for EHC needs "
            "assessment refused, assessments completed with a decision not to issue a plan, EHC "
            "plans held in January, and plans ceased because needs are met without a plan."
        ),
        METHOD_ANNUAL_REVIEWS: (
            "Total Appealable Decisions, 'In development' in the 2025 release and the method of "
            "the 2024-2025 file: person-level SEN2 counts annual reviews completed in the "
            "calendar year as the appealable decision instead of assuming every January plan "
            "is one."
        ),
    }
)

# --- High needs and the DSG -----------------------------------------------------------------
HIGH_NEEDS_SOURCE_ID = "dfe_high_needs"
HIGH_NEEDS_TABLE = "dfe_high_needs__dsg"
#: ESFA final DSG allocation releases (financial year) and their LA row counts.
FINAL_RELEASES: Mapping[str, int] = MappingProxyType(
    {"2020-21": 149, "2021-22": 150, "2022-23": 150, "2023-24": 151}
)
COMPILATION_RELEASE = "dfe-compilation"
DERIVED_RELEASE = "dashboard-derived"
#: LAs the ESFA allocation files leave out ("not included").
DSG_EXCLUDED_LAS: Mapping[str, str] = MappingProxyType(
    {"201": "City of London", "420": "Isles of Scilly"}
)
#: ``basis`` of the high needs benchmarking tool's outturn rows.
HNBT_BASIS = "hn_benchmarking_outturn"
#: The FBIT high-needs total: 1.0.2 place funding (all phases) and the six 1.2.x groups.
FBIT_TOTAL_MEASURES: tuple[str, ...] = (
    "hn_outturn_place_funding_early_years_gbp",
    "hn_outturn_place_funding_primary_gbp",
    "hn_outturn_place_funding_secondary_gbp",
    "hn_outturn_place_funding_special_gbp",
    "hn_outturn_place_funding_pru_ap_gbp",
    "hn_outturn_place_funding_post_school_gbp",
    "hn_outturn_top_up_maintained_gbp",
    "hn_outturn_top_up_non_maintained_gbp",
    "hn_outturn_sen_support_inclusion_gbp",
    "hn_outturn_alternative_provision_gbp",
    "hn_outturn_hospital_education_gbp",
    "hn_outturn_therapies_health_gbp",
)
#: The s251 outturn's DSG carried forward (line 1.9.3), in GBP.
DSG_MEASURE = "dsg_carried_forward_gbp"
