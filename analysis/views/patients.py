"""The Patients pages: the list of every patient, and one patient's facts, kinetics and clinical course on one
time axis (days since infusion)."""
from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from analysis.ck.cohort import CohortFit, PatientModelFit, patient_model_fit
from analysis.nca import NCAOptions
from analysis.nca.engine import curves, run_nca
from analysis.nca.parameters import interval_name
from analysis.responses import mrd_results
from analysis.safety import crs_icans_treatments
from analysis.survival import study_time_to_event
from analysis.views.common import StudyData
from data_access.catalogue import Catalogue

#: Which profile the list's Cmax and AUC are of.
LIST_PROFILE = ("car_copies", "PB")
LIST_WINDOW = (0.0, 28.0)
#: Specimens in the order the summary lists them.
SPECIMEN_ORDER = ("PB", "BM", "serum", "plasma")


def patient_list(data: StudyData, nca: pd.DataFrame) -> pd.DataFrame:
    """One row per patient: subject_id, dose_level, best_response, worst_crs_grade, worst_icans_grade, progression
    and death days, PFS and OS (days and whether the event happened), MRD (ever negative), and blood CAR transgene
    Cmax and AUC day 0-28
    from `nca` (the cohort NCA for the window LIST_WINDOW)."""
    study = data.study
    p = data.patients
    tte = study_time_to_event(study.subjects, study.responses, study.time_to_event)[0] \
        .set_index(["subject_id", "endpoint"])
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


#: The panels a patient page shows unless the user picks others: the first version's four, where the study has them.
DEFAULT_PANELS = ("car_copies", "car_pct", "plasma_cells_pct", "cytokines")


@dataclass(frozen=True)
class Panel:
    """One stacked panel of the patient figure: analytes sharing a unit (catalogue `panel`), in catalogue order."""

    key: str
    analytes: tuple[str, ...]
    label: str
    unit: str
    kind: str

    @property
    def log_scale(self) -> bool:
        return self.kind != "tumour_burden"


def study_panels(catalogue: Catalogue, analytes: list[str]) -> list[Panel]:
    """One panel per catalogue panel among the measured `analytes`, in catalogue order. A panel whose analytes
    turn out to have different units (a study's own declarations) is split into one panel per analyte."""
    grouped: dict[str, list[str]] = {}
    for code in catalogue.order(analytes):
        key = catalogue[code].panel_key if code in catalogue else code
        grouped.setdefault(key, []).append(code)
    out = []
    for key, codes in grouped.items():
        if len({catalogue.unit(c) for c in codes}) > 1:
            out += [Panel(c, (c,), catalogue.label(c), catalogue.unit(c), catalogue.kind(c)) for c in codes]
            continue
        label = catalogue.label(codes[0]) if len(codes) == 1 else catalogue.panel_label(key)
        out.append(Panel(key, tuple(codes), label, catalogue.unit(codes[0]), catalogue.kind(codes[0])))
    return out


def chosen_panels(available: list[Panel], keys: list[str] | None) -> list[Panel]:
    """The panels named in `keys` (in the study's order), else DEFAULT_PANELS, else the first four."""
    wanted = [p for p in available if p.key in (keys or ())]
    if wanted:
        return wanted
    defaults = [p for p in available if p.key in DEFAULT_PANELS]
    return defaults or available[:4]


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
    catalogue: Catalogue
    panels: list[Panel]            # the panels drawn, top to bottom
    available_panels: list[Panel]  # every panel the study's measurements allow
    treatments: pd.DataFrame       # the patient's CRS/ICANS treatments (analysis.safety.crs_icans_treatments)
    model_fit: PatientModelFit | None = None   # the cellular-kinetic model's fit, when asked for

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

    def drawn_analytes(self, kind: str) -> list[str]:
        """The analytes of one kind in the drawn panels, top to bottom."""
        return [a for p in self.panels for a in p.analytes if self.catalogue.kind(a) == kind]

    def summary(self) -> pd.DataFrame:
        """The kinetics summary's rows: the cellular-kinetic profiles of the drawn panels (panel order, then
        blood, marrow, serum, plasma), numbers unformatted."""
        analytes = self.drawn_analytes("cell_kinetics")
        rank = [analytes.index(a) * 10 + (SPECIMEN_ORDER.index(s) if s in SPECIMEN_ORDER else 9) if a in analytes
                else None for a, s in zip(self.params["analyte"], self.params["specimen"], strict=True)]
        rows = self.params.assign(_rank=rank).dropna(subset=["_rank"]).sort_values("_rank")
        return rows.drop(columns="_rank").reset_index(drop=True)


def patient_view(data: StudyData, subject_id: str, options: NCAOptions,
                 panels: list[str] | None = None, ck: CohortFit | None = None) -> PatientView:
    """Everything the patient page shows for one patient and one set of NCA options (KeyError: no such patient).
    `panels`: keys of the analyte panels to draw (default DEFAULT_PANELS); `ck`: the cohort's model fit, to show
    this patient's."""
    study = data.study
    options = replace(options, kinds=study.nca_kinds)
    ids = data.patients["subject_id"].tolist()
    if subject_id not in ids:
        raise KeyError(subject_id)
    rows = data.measurements_of(subject_id)
    responses = study.responses[study.responses["subject_id"] == subject_id]
    conmeds = study.concomitant_medications
    return PatientView(
        subject_id=subject_id, facts=data.patients.set_index("subject_id").loc[subject_id],
        covariates=study.covariate_columns, position=ids.index(subject_id), subject_ids=ids, options=options,
        measurements=rows, params=run_nca(rows, options), curves=curves(rows, options), responses=responses,
        adverse_events=study.adverse_events[study.adverse_events["subject_id"] == subject_id],
        mrd=mrd_results(responses)[["day", "mrd_negative"]], catalogue=study.catalogue,
        panels=chosen_panels(data.panels, panels), available_panels=data.panels,
        treatments=crs_icans_treatments(conmeds[conmeds["subject_id"] == subject_id]),
        model_fit=patient_model_fit(ck, subject_id) if ck is not None else None,
    )
