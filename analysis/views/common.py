"""What every page view starts from: a loaded study with its per-patient facts, and the study note."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from analysis.patients import patient_table
from data_access.study import Study


@dataclass
class StudyData:
    """A study plus what every view reuses: one row of facts per patient and measurements split by patient."""

    study: Study
    patients: pd.DataFrame
    measurements_by_subject: dict[str, pd.DataFrame]

    @classmethod
    def of(cls, study: Study) -> StudyData:
        patients = patient_table(study.subjects, study.responses, study.adverse_events)
        by_subject = {sid: rows for sid, rows in study.measurements.groupby("subject_id", sort=False)}
        return cls(study, patients, by_subject)

    @cached_property
    def note(self) -> str:
        """The study note (see `study_note`), built once per loaded study."""
        return study_note(self.study)

    @cached_property
    def flow_pairs(self) -> pd.DataFrame:
        """Same-day quantified CAR+ % and transgene pairs in blood (they depend on the study only)."""
        from analysis.kinetics import paired_flow_qpcr

        return paired_flow_qpcr(self.study.measurements)

    @cached_property
    def profiles(self) -> dict[str, list[str]]:
        """Analyte -> the specimens it was measured in, both in catalogue order (what the selectors offer)."""
        catalogue = self.study.catalogue
        pairs = self.study.measurements[["analyte", "specimen"]].drop_duplicates()
        out = {}
        for analyte in catalogue.order(pairs["analyte"]):
            out[analyte] = catalogue.order_specimens(analyte, pairs.loc[pairs["analyte"] == analyte, "specimen"])
        return out

    @cached_property
    def subgroups(self):
        """ORR, CRS >= 2 and the PFS hazard ratio by every covariate (analysis.subgroups; the Exposure-response page's
        forest plots): they depend on the study only, so once per loaded study (~0.5 s on the demo)."""
        from analysis.subgroups import subgroup_analysis
        from analysis.survival import study_time_to_event

        study = self.study
        tte, _ = study_time_to_event(study.subjects, study.responses, study.time_to_event)
        return subgroup_analysis(self.patients, tte)

    @cached_property
    def groupings(self) -> dict[str, str]:
        """How the cohort pages can split this study's patients (analysis.kinetics.study_groupings)."""
        from analysis.kinetics import study_groupings

        return study_groupings(self.patients)

    @cached_property
    def panels(self):
        """The patient-page panels this study's measurements allow (analysis.views.patients.study_panels)."""
        from analysis.views.patients import study_panels

        return study_panels(self.study.catalogue, list(self.profiles))

    def measurements_of(self, subject_id: str) -> pd.DataFrame:
        return self.measurements_by_subject.get(subject_id, self.study.measurements.iloc[:0])


def data_cutoff_day(study: Study) -> float:
    """The latest follow-up day recorded: the data cut-off in days since infusion."""
    return float(study.subjects["last_contact_day"].max())


def study_note(study: Study) -> str:
    """The line every figure of a page ends with, once: study and version, data cut-off, and SIMULATED DATA for
    a simulated study. Built once per page; builders never add it themselves."""
    note = f"{study.label}; data cut-off: day {data_cutoff_day(study):g} of follow-up"
    return note + ("; SIMULATED DATA, no real patient." if study.simulated else ".")
