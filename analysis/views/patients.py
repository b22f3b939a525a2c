"""The Patients pages: the list of every patient, and one patient's facts, kinetics and clinical course on one
time axis (days since infusion)."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.nca import NCAOptions
from analysis.nca.engine import curves, run_nca
from analysis.nca.parameters import interval_name
from analysis.responses import mrd_results
from analysis.survival import time_to_event
from analysis.views.common import StudyData

#: Which profile the list's Cmax and AUC are of.
LIST_PROFILE = ("car_copies", "PB")
LIST_WINDOW = (0.0, 28.0)
#: The kinetics summary rows of the patient page, in order.
SUMMARY_PROFILES = (("car_copies", "PB"), ("car_copies", "BM"), ("car_t_pct", "PB"), ("car_t_pct", "BM"))


def patient_list(data: StudyData, nca: pd.DataFrame) -> pd.DataFrame:
    """One row per patient: subject_id, dose_level, best_response, worst_crs_grade, worst_icans_grade, progression
    and death days, PFS and OS (days and whether the event happened), MRD (ever negative), and blood CAR transgene
    Cmax and AUC day 0-28
    from `nca` (the cohort NCA for the window LIST_WINDOW)."""
    study = data.study
    p = data.patients
    tte = time_to_event(study.subjects, study.responses).set_index(["subject_id", "endpoint"])
    analyte, specimen = LIST_PROFILE
    blood = nca[(nca["analyte"] == analyte) & (nca["specimen"] == specimen)].set_index("subject_id")
    mrd = mrd_results(study.responses).groupby("subject_id")["mrd_negative"].any()
    out = p[["subject_id", "dose_level", "best_response", "response_group", "worst_crs_grade",
             "worst_icans_grade", "progression_day", "death_day"]].copy()
    for endpoint in ("PFS", "OS"):
        rows = tte.xs(endpoint, level="endpoint")
        out[f"{endpoint.lower()}_days"] = out["subject_id"].map(rows["time_days"])
        out[f"{endpoint.lower()}_event"] = out["subject_id"].map(rows["event"]).astype(bool)
    out["mrd_negative"] = out["subject_id"].map(mrd)
    auc = interval_name(*LIST_WINDOW)
    out["cmax"] = out["subject_id"].map(blood["cmax"])
    out["auc_0_28"] = out["subject_id"].map(blood[auc]) if auc in blood else float("nan")
    return out.reset_index(drop=True)


@dataclass
class PatientView:
    subject_id: str
    facts: pd.Series               # the patient's row of analysis.patients.patient_table
    covariates: list[str]          # extra subject columns, shown as facts
    position: int                  # 0-based, in the study's patient order
    subject_ids: list[str]
    options: NCAOptions
    measurements: pd.DataFrame
    params: pd.DataFrame           # NCA of every profile of this patient
    curves: pd.DataFrame           # the curves the NCA integrated (for shading the AUC)
    responses: pd.DataFrame
    adverse_events: pd.DataFrame
    mrd: pd.DataFrame              # day, mrd_negative

    @property
    def window(self) -> tuple[float, float]:
        return self.options.intervals[0]

    @property
    def auc_column(self) -> str:
        return self.options.interval_names[0]

    @property
    def previous_id(self) -> str | None:
        return self.subject_ids[self.position - 1] if self.position > 0 else None

    @property
    def next_id(self) -> str | None:
        return self.subject_ids[self.position + 1] if self.position + 1 < len(self.subject_ids) else None

    def summary(self) -> pd.DataFrame:
        """The kinetics summary's rows (SUMMARY_PROFILES present in `params`), numbers unformatted."""
        order = {key: i for i, key in enumerate(SUMMARY_PROFILES)}
        rank = [order.get(key) for key in zip(self.params["analyte"], self.params["specimen"], strict=True)]
        rows = self.params.assign(_rank=rank).dropna(subset=["_rank"]).sort_values("_rank")
        return rows.drop(columns="_rank").reset_index(drop=True)


def patient_view(data: StudyData, subject_id: str, options: NCAOptions) -> PatientView:
    """Everything the patient page shows for one patient and one set of NCA options (KeyError: no such patient)."""
    study = data.study
    ids = data.patients["subject_id"].tolist()
    if subject_id not in ids:
        raise KeyError(subject_id)
    rows = data.measurements_of(subject_id)
    responses = study.responses[study.responses["subject_id"] == subject_id]
    return PatientView(
        subject_id=subject_id, facts=data.patients.set_index("subject_id").loc[subject_id],
        covariates=study.covariate_columns, position=ids.index(subject_id), subject_ids=ids, options=options,
        measurements=rows, params=run_nca(rows, options), curves=curves(rows, options), responses=responses,
        adverse_events=study.adverse_events[study.adverse_events["subject_id"] == subject_id],
        mrd=mrd_results(responses)[["day", "mrd_negative"]],
    )
