"""The CK model page: the cellular-kinetic model fitted to every patient's profile, compared across groups (two-stage
population summary, typical curves), with the diagnostics a pharmacometrician asks for."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.ck.cohort import CohortFit, observations
from analysis.ck.population import GroupCurve, group_curves, two_stage
from analysis.kinetics import grouping_values
from analysis.views.common import StudyData
from analysis.views.kinetics import where

#: The days the typical curves and bands are drawn at.
CURVE_DAYS = np.unique(np.concatenate([np.linspace(0, 60, 241), np.linspace(0, 730, 366)]))


@dataclass(frozen=True)
class ModelSettings:
    analyte: str = "car_copies"
    specimen: str = "PB"
    grouping: str = "dose_level"       # a key of analysis.kinetics.study_groupings


@dataclass
class ModelView:
    settings: ModelSettings
    label: str                          # 'CAR transgene'
    unit: str
    where: str                          # 'CAR transgene, blood'
    cohort: CohortFit
    groups: list[str]                   # in display order
    group_of: pd.Series                 # subject_id -> group
    parameters: pd.DataFrame            # the cohort's parameter table with a `group` column
    summary: pd.DataFrame               # analysis.ck.population.two_stage by group
    curves: list[GroupCurve]
    observations: pd.DataFrame          # analysis.ck.cohort.observations with a `group` column
    status_counts: pd.DataFrame         # group x fit status: number of profiles

    grouping_label: str = ""            # 'Dose level', 'Age group' ...


def model_view(data: StudyData, cohort: CohortFit, settings: ModelSettings) -> ModelView:
    """`cohort`: the model fitted to the settings' analyte and specimen (pages/_context.cohort_ck)."""
    study = data.study
    s = settings
    values, order = grouping_values(data.patients, s.grouping)
    group_of = pd.Series(values.to_numpy(), index=data.patients["subject_id"])
    parameters = cohort.parameters.assign(group=cohort.parameters["subject_id"].map(group_of))
    groups = [g for g in order if g in set(parameters["group"])]
    summary = two_stage(cohort.parameters, group_of, groups)
    obs = observations(cohort)
    obs["group"] = obs["subject_id"].map(group_of)
    counts = pd.crosstab(parameters["group"], parameters["status"]).reindex(groups).fillna(0).astype(int)
    catalogue = study.catalogue
    return ModelView(s, catalogue.label(s.analyte), catalogue.unit(s.analyte), where(catalogue, s.analyte, s.specimen),
                     cohort, groups, group_of, parameters, summary,
                     group_curves(cohort, summary, group_of, groups, CURVE_DAYS), obs, counts,
                     data.groupings.get(s.grouping, s.grouping))
