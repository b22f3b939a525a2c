"""The Kinetics page: every patient's profile with group summaries by day, the NCA of every patient, summaries
by group, and exposure against best response, CRS and IL-6."""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import pandas as pd

from analysis.kinetics import (
    ALL_PATIENTS,
    GroupValues,
    cohort_samples,
    cohort_summary,
    crs_group,
    group_order,
    group_summary,
    group_values,
    group_values_table,
    grouping_values,
    spearman,
)
from analysis.nca.parameters import BY_NAME, interval_name, interval_parameter
from analysis.views.common import StudyData
from analysis.views.reproduce import nca_table
from data_access.catalogue import Catalogue, specimen_label

STATISTICS = {"median": "median and interquartile range", "geomean": "geometric mean and 90% interval"}
#: The NCA parameters summarised by group, by the analyte's kind (`<auc>`: the AUC window's partial AUC).
SUMMARY_PARAMETERS = {
    "cell_kinetics": ("cmax", "<auc>", "tmax", "tlast"),
    "biomarker": ("baseline", "peak", "peak_day", "peak_fold_change"),
    "tumour_burden": ("baseline", "nadir", "nadir_day", "nadir_percent_reduction"),
}
#: The patient facts shown beside each patient's NCA.
FACT_COLUMNS = ("dose_level", "best_response", "response_group", "worst_crs_grade")


@dataclass(frozen=True)
class CohortSettings:
    analyte: str = "car_copies"
    specimen: str = "PB"
    grouping: str = "dose_level"       # a key of analysis.kinetics.study_groupings
    statistic: str = "median"          # a key of STATISTICS
    start: float = 0.0
    end: float = 28.0
    auc_method: str = "linuplogdown"
    blq: str = "pknca"

    @property
    def auc_column(self) -> str:
        return interval_name(self.start, self.end)


@dataclass
class ExposureFigure:
    title: str
    panels: list[GroupValues]
    comparison: str = ""       # what is compared, in a few words (the exposure table's first column)


@dataclass
class CohortView:
    settings: CohortSettings
    kind: str                       # the analyte's kind (data_access/catalogue.py)
    label: str                      # the analyte's label ('CAR transgene')
    unit: str
    where: str                      # 'CAR transgene, blood'
    groups: list[str]               # the grouping's groups in display order
    samples: pd.DataFrame           # subject_id, day, level, blq, nominal_day, group
    by_day: pd.DataFrame            # group, nominal_day, n, centre, lower, upper
    patients_by_group: dict[str, int]
    group_summary: pd.DataFrame     # group, parameter, n, n_zero, median, min, max, geometric_mean, geometric_cv_pct
    table: pd.DataFrame             # NCA of the selected analyte and specimen with FACT_COLUMNS
    exposure: dict[str, ExposureFigure]
    exposure_table: pd.DataFrame    # every exposure panel's groups: n, n at 0, median, range, geometric mean
    flow_pairs: pd.DataFrame        # subject_id, day, car_copies, car_t_pct
    flow_test: tuple[float, float, int]

    @property
    def summary_parameters(self) -> list[str]:
        return summary_parameters(self.kind, self.settings.auc_column)


#: Exposure figures already computed, by the caller's key of the NCA they came from and the settings they read
#: (the cohort page's updates mostly change grouping, display, scale or statistic, which they do not depend on).
_exposure_cache: OrderedDict[tuple, dict[str, ExposureFigure]] = OrderedDict()
_exposure_lock = threading.Lock()
EXPOSURE_CACHE_SIZE = 64


def _exposure(nca_key: tuple | None, compute, s: CohortSettings) -> dict[str, ExposureFigure]:
    if nca_key is None:
        return compute()
    key = (*nca_key, s.analyte, s.specimen, s.start, s.end)
    with _exposure_lock:
        if key in _exposure_cache:
            _exposure_cache.move_to_end(key)
            return _exposure_cache[key]
    value = compute()
    with _exposure_lock:
        _exposure_cache[key] = value
        while len(_exposure_cache) > EXPOSURE_CACHE_SIZE:
            _exposure_cache.popitem(last=False)
    return value


def cohort_view(data: StudyData, nca: pd.DataFrame, settings: CohortSettings,
                nca_key: tuple | None = None) -> CohortView:
    """`nca`: the NCA of every profile for the settings' window, AUC method and BLQ rule. `nca_key`, when given,
    names that NCA and the study it is of, once and for all (a stored version never changes): the exposure figures,
    which depend on it and on the analyte, specimen and window only, are then computed once per key and reused
    (they are ~2/3 of the view's time: a rank test and a description per group and parameter)."""
    study = data.study
    s = settings
    group_of, all_groups = grouping_values(data.patients, s.grouping)
    patients = data.patients.assign(crs_group=crs_group(data.patients["worst_crs_grade"]), none=ALL_PATIENTS,
                                    _group=group_of)
    group_column = "none" if s.grouping == "none" else "_group"
    samples = cohort_samples(study.measurements, s.analyte, s.specimen)
    samples["group"] = samples["subject_id"].map(patients.set_index("subject_id")[group_column])
    groups = [g for g in all_groups if g in set(samples["group"])]
    by_day = cohort_summary(samples, s.statistic, None if s.grouping == "none" else "group")
    if s.grouping == "none":
        by_day.insert(0, "group", ALL_PATIENTS)
    selected = nca[(nca["analyte"] == s.analyte) & (nca["specimen"] == s.specimen)]
    table = selected.merge(patients[["subject_id", *FACT_COLUMNS, "crs_group", "none", "_group"]], on="subject_id",
                           how="left")
    kind = study.catalogue.kind(s.analyte)
    summary_columns = summary_parameters(kind, s.auc_column)
    summary = group_summary(table.assign(group=table[group_column]), summary_columns,
                            None if s.grouping == "none" else "group", order=groups)
    exposure = _exposure(nca_key, lambda: exposure_figures(nca, patients, s, study.catalogue), s)
    pairs = data.flow_pairs
    catalogue = study.catalogue
    return CohortView(
        settings=s, kind=kind, label=catalogue.label(s.analyte), unit=catalogue.unit(s.analyte),
        where=where(catalogue, s.analyte, s.specimen),
        groups=groups, samples=samples, by_day=by_day,
        patients_by_group=samples.groupby("group")["subject_id"].nunique().to_dict(), group_summary=summary,
        table=table.drop(columns=["crs_group", "none", "_group"]), exposure=exposure,
        exposure_table=group_values_table({f.comparison: f.panels for f in exposure.values()}),
        flow_pairs=pairs, flow_test=spearman(pairs["car_copies"], pairs["car_t_pct"]),
    )


def summary_parameters(kind: str, auc_column: str) -> list[str]:
    return [auc_column if name == "<auc>" else name for name in SUMMARY_PARAMETERS[kind]]


def where(catalogue: Catalogue, analyte: str, specimen: str) -> str:
    """'CAR transgene, blood'."""
    return f"{catalogue.label(analyte)}, {specimen_label(specimen).lower()}"


def exposure_figures(nca: pd.DataFrame, patients: pd.DataFrame, s: CohortSettings,
                     catalogue: Catalogue) -> dict[str, ExposureFigure]:
    """Cmax and the window's AUC by best response and by worst CRS grade (of the selected analyte when it is a
    cellular-kinetic one, else blood CAR transgene), and a biomarker's peak by worst CRS grade (the selected
    biomarker, else IL-6)."""
    if catalogue.kind(s.analyte) == "cell_kinetics":
        analyte, specimen = s.analyte, s.specimen
    else:
        analyte, specimen = "car_copies", "PB"
    unit = catalogue.unit(analyte)
    place = where(catalogue, analyte, specimen)
    rows = nca[(nca["analyte"] == analyte) & (nca["specimen"] == specimen)].merge(patients, on="subject_id")
    auc = interval_parameter(s.start, s.end)
    figures = {}
    for key, column, by in (("by_response", "response_group", "best response"),
                            ("by_crs", "crs_group", "worst CRS grade")):
        order = group_order(column, rows[column])
        figures[key] = ExposureFigure(f"{place}: exposure by {by}", [
            group_values(rows, "cmax", column, order, BY_NAME["cmax"].header(unit)),
            group_values(rows, auc.name, column, order, auc.header(unit))], f"{place} by {by}")
    marker = s.analyte if catalogue.kind(s.analyte) == "biomarker" else "il6"
    name = catalogue[marker].label if marker in catalogue else marker
    short = "IL-6" if marker == "il6" else name
    peaks = nca[nca["analyte"] == marker].merge(patients, on="subject_id")
    figures["il6"] = ExposureFigure(f"{'Serum IL-6' if marker == 'il6' else name} peak by worst CRS grade", [
        group_values(peaks, "peak", "crs_group", group_order("crs_group", peaks["crs_group"]),
                     BY_NAME["peak"].header(catalogue.unit(marker)).replace("Peak", f"{short} peak"))],
        f"{short} by worst CRS grade")
    return figures


def reproduce(study: str, version: int, s: CohortSettings, with_settings: bool) -> tuple[str, str]:
    """The command line and a short Python snippet (analysis.nca.nca) that give the NCA table this page shows for
    `s`; `with_settings`: the study has analyst's choices, in the page's settings file."""
    return nca_table(study, version, s.analyte, s.specimen, s.start, s.end, s.auc_method, s.blq, with_settings)
