"""What reproduces a page's table or figure outside the app: the command line and a short Python snippet, as text.

Each function returns (command line, Python); the command line is '' where there is no command for it. The Python
uses the same analysis functions the page calls, on the stored study (the default database: set
CARTSCOPE_DATABASE_URL as the app has it), so the numbers are the page's.
"""
from __future__ import annotations

import shlex


def _load(study: str, version: int) -> list[str]:
    return ["from data_access import store", "", f"study = store.load_study({study!r}, version={version})"]


def nca_table(study: str, version: int, analyte: str, specimen: str, start: float, end: float, auc_method: str,
              blq: str, with_settings: bool, subject_id: str | None = None) -> tuple[str, str]:
    """The NCA of one analyte and specimen (of one patient, with `subject_id`), with the analyst's choices when the
    study has any (`with_settings`: the page's settings file, 'Download settings' on the Kinetics page)."""
    settings_file = f"settings_{study}_v{version}.json"
    command = (f"python -m analysis nca {shlex.quote(study)} --analyte {shlex.quote(analyte)} "
               f"--specimen {shlex.quote(specimen)}"
               + (f" --subject {shlex.quote(subject_id)}" if subject_id is not None else "")
               + f" --interval {start:g},{end:g} --auc-method {auc_method} --blq {blq}"
               + (f" --settings {settings_file}" if with_settings else "") + " --out nca.csv")
    rows = f"(m['analyte'] == {analyte!r}) & (m['specimen'] == {specimen!r})" + (
        f" & (m['subject_id'] == {subject_id!r})" if subject_id is not None else "")
    lines = ["from analysis.nca import nca",
             *(["from data_access.choices import current_choices"] if with_settings else []),
             *_load(study, version),
             "m = study.measurements",
             f"m = m[{rows}]",
             *([f"chosen = current_choices({study!r}, {version})  # or the settings file: "
                "data_access.choices.choices_from_document"] if with_settings else []),
             f"result = nca(m, intervals=[({start:g}, {end:g})], auc_method={auc_method!r}, blq={blq!r},",
             "             kinds=dict(study.nca_kinds)" + (", exclusions=chosen.exclusions, "
                                                          "lambda_z_points=chosen.lambda_z_points)" if with_settings
                                                          else ")")]
    return command, "\n".join(lines)


def ck_fits(study: str, version: int, analyte: str, specimen: str, grouping: str) -> tuple[str, str]:
    """The model fits of every profile, and their two-stage summary by the page's grouping."""
    command = (f"python -m analysis ck {shlex.quote(study)} --analyte {shlex.quote(analyte)} "
               f"--specimen {shlex.quote(specimen)} --out ck.csv")
    lines = ["import pandas as pd",
             "from analysis.ck.cohort import fit_cohort",
             "from analysis.ck.population import two_stage",
             "from analysis.kinetics import grouping_values",
             "from analysis.patients import patient_table",
             *_load(study, version),
             f"cohort = fit_cohort(study.measurements, {analyte!r}, {specimen!r})",
             "parameters = cohort.parameters  # every profile: status, reason, each parameter with its 95% CI",
             "patients = patient_table(study.subjects, study.responses, study.adverse_events)",
             f"groups, order = grouping_values(patients, {grouping!r})",
             "summary = two_stage(parameters, pd.Series(groups.to_numpy(), index=patients['subject_id']), order)"]
    return command, "\n".join(lines)


ENDPOINT_TABLES = {"efficacy": ("best_response", "response_rates"), "survival": ("time_to_event", "km_summary"),
                   "safety": ("ae_table", "crs_treatment")}


def endpoint_tables(study: str, version: int, page: str) -> tuple[str, str]:
    """The response, time-to-event and safety endpoints (one call computes them all)."""
    command = f"python -m analysis endpoints {shlex.quote(study)} --out endpoints/"
    names = ENDPOINT_TABLES[page]
    lines = ["from analysis.endpoints import endpoints", *_load(study, version), "result = endpoints(study)",
             *[f"result.{name}" for name in names]]
    return command, "\n".join(lines)


def exposure_response(study: str, version: int, analyte: str, specimen: str, metric: str, outcome: str,
                      log: bool) -> tuple[str, str]:
    """The exposure table, the response by quartile and the logistic regression (no command line for them yet)."""
    nca_line = ("nca = run_nca(study.measurements, NCAOptions(intervals=(AUC_WINDOW,), kinds=study.nca_kinds,\n"
                "              exclusions=chosen.exclusions, lambda_z_points=chosen.lambda_z_points))")
    lines = ["from analysis.exposure_response import AUC_WINDOW, exposure_table, logistic_fit, response_by_quartile",
             "from analysis.nca import NCAOptions",
             "from analysis.nca.engine import run_nca",
             "from analysis.patients import patient_table",
             "from data_access.choices import current_choices",
             *_load(study, version),
             f"chosen = current_choices({study!r}, {version})",
             nca_line,
             "patients = patient_table(study.subjects, study.responses, study.adverse_events)"]
    if metric == "rho":
        lines += ["from analysis.ck.cohort import fit_cohort",
                  "from analysis.ck.population import expansion_rates",
                  f"extra = expansion_rates(fit_cohort(study.measurements, {analyte!r}, {specimen!r}).parameters)",
                  f"exposure = exposure_table(patients, nca, {analyte!r}, {specimen!r}, extra)"]
    else:
        lines.append(f"exposure = exposure_table(patients, nca, {analyte!r}, {specimen!r})")
    lines += [f"quartiles = response_by_quartile(exposure, {metric!r}, {outcome!r}, log={log})",
              f"fit = logistic_fit(exposure, {metric!r}, {outcome!r}, log={log})"]
    return "", "\n".join(lines)
