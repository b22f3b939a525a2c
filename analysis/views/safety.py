"""The Safety page: AE table (CTCAE v5; CRS and ICANS by ASTCT), CRS/ICANS onset and duration, grade >= 3
events, and CRS grade against IL-6 peak and CAR-T expansion."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.kinetics import GroupValues, crs_group, group_order, group_values
from analysis.safety import ae_table, crs_treatment_table, grade3_onsets, has_relatedness, onset_and_duration
from analysis.views.common import StudyData
from data_access.schema import CRS_TERM, ICANS_TERM


@dataclass
class SafetyView:
    n_patients: int
    can_filter: bool                 # the study records attribution
    related_only: bool
    ae: pd.DataFrame                 # analysis.safety.ae_table (= ae_table.csv)
    onsets: list[dict]               # CRS and ICANS: onset and duration of the first episode
    grade3: pd.DataFrame             # every grade >= 3 event (of the attribution shown) with its onset day
    crs_panels: list[GroupValues]    # IL-6 peak and blood transgene Cmax by worst CRS grade
    treatments: pd.DataFrame | None  # analysis.safety.treatment_by_crs_grade; None: no medications recorded

    @property
    def attribution(self) -> str:
        return "treatment-related AEs" if self.related_only else "all AEs"


def safety_view(data: StudyData, nca: pd.DataFrame, attribution: str | None = None) -> SafetyView:
    """`nca`: the cohort NCA (any window: only Cmax and the IL-6 peak are used). `attribution`: 'all' shows every
    AE; otherwise treatment-related AEs when the study records attribution."""
    study = data.study
    ae = study.adverse_events
    can_filter = has_relatedness(ae)
    related_only = can_filter and attribution != "all"
    patients = data.patients.assign(crs_group=crs_group(data.patients["worst_crs_grade"]))
    order = group_order("crs_group", patients["crs_group"])
    il6 = nca[nca["analyte"] == "il6"].merge(patients[["subject_id", "crs_group"]], on="subject_id")
    car = nca[(nca["analyte"] == "car_copies") & (nca["specimen"] == "PB")].merge(
        patients[["subject_id", "crs_group"]], on="subject_id")
    catalogue = study.catalogue
    panels = [group_values(il6, "peak", "crs_group", order, f"IL-6 peak ({catalogue.unit('il6')})"),
              group_values(car, "cmax", "crs_group", order,
                           f"CAR transgene Cmax, blood ({catalogue.unit('car_copies')})")]
    treatments = crs_treatment_table(study.concomitant_medications, data.patients)
    shown = ae[ae["related"].eq(True)] if related_only else ae
    return SafetyView(len(study.subjects), can_filter, related_only, ae_table(ae, len(study.subjects), related_only),
                      [onset_and_duration(ae, CRS_TERM), onset_and_duration(ae, ICANS_TERM)], grade3_onsets(shown),
                      panels, treatments)
