"""The Exposure-response page: response (or CRS grade >= 2) by exposure quartile with the logistic regression on log
exposure, exposure by dose level, and subgroup forest plots of ORR, CRS >= 2 and the PFS hazard ratio."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from analysis.exposure_response import (
    METRICS,
    OUTCOME_COLUMNS,
    OUTCOMES,
    LogisticFit,
    Metric,
    analysis_set,
    exposure_table,
    logistic_fit,
    response_by_quartile,
)
from analysis.groups import ordered_dose_levels
from analysis.kinetics import GroupValues, group_values, group_values_table
from analysis.nca.parameters import parameter
from analysis.subgroups import Subgroups
from analysis.views.common import StudyData
from analysis.views.kinetics import where
from data_access.catalogue import specimen_label


@dataclass(frozen=True)
class ERSettings:
    analyte: str = "car_copies"
    specimen: str = "PB"
    metric: str = "cmax"           # a key of analysis.exposure_response.METRICS
    outcome: str = "response"      # a key of analysis.exposure_response.OUTCOMES


def exposure_analytes(data: StudyData) -> dict[str, list[str]]:
    """The analytes (and their specimens) an exposure can come from: the study's cellular-kinetic ones (every
    measured analyte when it has none)."""
    kinetic = {a: s for a, s in data.profiles.items() if data.study.catalogue.kind(a) == "cell_kinetics"}
    return kinetic or dict(data.profiles)


@dataclass
class ExposureResponseView:
    settings: ERSettings
    where: str                        # 'CAR transgene, blood'
    unit: str                         # the analyte's unit
    metric: Metric
    metric_header: str                # 'Cmax (copies/µg gDNA)'
    axis_title: str                   # 'CAR transgene Cmax, blood (copies/µg gDNA)'
    outcome_label: str                # 'Response (≥PR)'
    exposure: pd.DataFrame            # analysis.exposure_response.exposure_table: every patient
    points: pd.DataFrame              # the analysis set: subject_id, dose_level, exposure, outcome (True/False)
    quartiles: pd.DataFrame           # analysis.exposure_response.response_by_quartile
    fit: LogisticFit
    dose_levels: list[str]            # low to high
    dose_panels: list[GroupValues]    # every metric by dose level (patients with a value, 0 included)
    dose_summary: pd.DataFrame        # analysis.kinetics.group_values_table of dose_panels
    metrics: dict[str, str]           # metric key -> header, the metrics this study's exposure table has
    data: StudyData = field(repr=False)

    @property
    def subgroups(self) -> Subgroups:
        """The forest plots' rows: they depend on the study only, so they are computed once per loaded study
        (StudyData.subgroups) and shared by every view of it."""
        return self.data.subgroups


def metric_unit(metric: Metric, unit: str) -> str:
    """The metric's unit for an analyte measured in `unit` ('copies/µg gDNA·day' for an AUC)."""
    return parameter(metric.key).unit(unit) if metric.source == "nca" else (metric.unit or "")


def metric_header(metric: Metric, unit: str) -> str:
    """'Cmax (copies/µg gDNA)'."""
    own = metric_unit(metric, unit)
    return f"{metric.label} ({own})" if own else metric.label


def exposure_response_view(data: StudyData, nca: pd.DataFrame, settings: ERSettings,
                           extra: pd.DataFrame | None = None) -> ExposureResponseView:
    """`nca`: the cohort NCA with the AUC window of analysis.exposure_response.AUC_WINDOW. `extra`: per-patient
    model metrics (subject_id and one column per METRICS entry of source 'model'): the hook for fitted rates."""
    s = settings
    catalogue = data.study.catalogue
    unit = catalogue.unit(s.analyte)
    table = exposure_table(data.patients, nca, s.analyte, s.specimen, extra)
    available = {key: m for key, m in METRICS.items() if key in table.columns}
    metric = available.get(s.metric) or next(iter(available.values()))
    outcome = s.outcome if s.outcome in OUTCOMES else "response"
    used, _ = analysis_set(table, metric.key, metric.log)
    points = pd.DataFrame({"subject_id": used["subject_id"], "dose_level": used["dose_level"],
                           "exposure": used["exposure"], "outcome": used[OUTCOME_COLUMNS[outcome]].astype(bool)})
    doses = ordered_dose_levels(table["dose_level"].dropna())
    panels = [group_values(table, m.key, "dose_level", doses, metric_header(m, unit)) for m in available.values()]
    return ExposureResponseView(
        settings=ERSettings(s.analyte, s.specimen, metric.key, outcome), where=where(catalogue, s.analyte, s.specimen),
        unit=unit, metric=metric, metric_header=metric_header(metric, unit),
        axis_title=f"{catalogue.label(s.analyte)} {metric.label}, {specimen_label(s.specimen).lower()}"
                   + (f" ({metric_unit(metric, unit)})" if metric_unit(metric, unit) else ""),
        outcome_label=OUTCOMES[outcome],
        exposure=table, points=points.reset_index(drop=True),
        quartiles=response_by_quartile(table, metric.key, outcome, metric.log),
        fit=logistic_fit(table, metric.key, outcome, metric.log), dose_levels=doses, dose_panels=panels,
        dose_summary=group_values_table({"dose level": panels}),
        metrics={key: metric_header(m, unit) for key, m in available.items()}, data=data)
