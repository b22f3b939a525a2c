"""Which study a page shows: read from the URL (?study=NAME&version=N), newest version by default."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qs, urlencode

import pandas as pd
from dash import html

import settings
from components.layout import notice
from data_access import store
from data_access.cache import cached_nca, cached_study
from data_access.study import Study

STUDY_PARAMS = ("study", "version", "slide")


def default_study_name(studies: pd.DataFrame) -> str | None:
    """CARTSCOPE_DEFAULT_STUDY if stored, else the demo study, else the most recently imported study."""
    if studies.empty:
        return None
    names = set(studies["name"])
    for candidate in (settings.default_study(), settings.DEMO_STUDY_NAME):
        if candidate in names:
            return candidate
    return str(studies.sort_values("imported_at")["name"].iloc[-1])


def parse_version(version: str | int | None) -> int | None:
    try:
        return int(version) if version not in (None, "") else None
    except (TypeError, ValueError):
        return -1  # never a stored version: reported as "no such version"


@dataclass
class Selection:
    """The study the URL asks for, the selector's options, and the URL query that names it."""

    name: str | None
    version: int | None
    newest: int | None
    search: str
    study_options: list[dict]
    version_options: list[dict]
    simulated: bool


def query_params(search: str | None) -> dict[str, str]:
    """A URL query string (`?a=1&b=2`) as a dict, first value of each key."""
    return {k: v[0] for k, v in parse_qs((search or "").lstrip("?")).items()}


def query_string(params: dict[str, str]) -> str:
    """The inverse of query_params: `?a=1&b=2`, or "" when there is nothing to say."""
    return ("?" + urlencode(params)) if params else ""


def resolve_selection(studies: pd.DataFrame, search: str | None, chosen_name: str | None = None,
                      chosen_version: int | None = None, from_selector: bool = False) -> Selection:
    """Reconcile the URL with the selector: the URL wins on navigation, the selector when the user picks."""
    params = query_params(search)
    if from_selector:
        name, version = chosen_name, chosen_version
    else:
        name, version = params.get("study") or default_study_name(studies), parse_version(params.get("version"))
    versions = studies[studies["name"] == name].sort_values("version", ascending=False)
    newest = int(versions["version"].iloc[0]) if len(versions) else None
    if version == newest:
        version = None
    params.pop("version", None)
    if name:
        params["study"] = name
    if version is not None:
        params["version"] = str(version)
    shown = versions[versions["version"] == (version or newest)]
    return Selection(
        name=name, version=version, newest=newest,
        search=query_string(params),
        study_options=[{"label": n, "value": n} for n in sorted(studies["name"].unique())],
        version_options=[{"label": f"v{v}" + (" (newest)" if v == newest else ""), "value": int(v)}
                         for v in versions["version"]],
        simulated=bool(len(shown) and shown["simulated"].iloc[0]),
    )


def study_query(search: str | None) -> str:
    """Only the study-choosing part of a query string, for links to other pages."""
    return query_string({k: v for k, v in query_params(search).items() if k in STUDY_PARAMS})


def load_selected(study: str | None, version: str | None) -> tuple[Study | None, html.Div | None]:
    """The study a page was asked for, or a friendly notice saying why there is none. The study comes from
    this process's bundle (loaded once per version), not from the shared cache on every request."""
    name = study or default_study_name(store.list_studies())
    if name is None:
        return None, notice("No study stored yet", "Import one on the Data page or with "
                            "`python -m data_access import PATH --name NAME`.")
    record = store.find_study(name, parse_version(version))
    if record is None:
        known = ", ".join(sorted(store.list_studies()["name"].unique())) or "none"
        what = f"'{name}'" + (f" version {version}" if version else "")
        return None, notice("No such study", f"There is no stored study {what}. Stored studies: {known}.",
                            kind="warning")
    return study_bundle(record.name, record.version).study, None


@dataclass
class StudyBundle:
    """A loaded study plus what every page reuses: patient facts and measurements split by patient."""

    study: Study
    patients: pd.DataFrame
    measurements_by_subject: dict


@lru_cache(maxsize=8)
def _bundle(database_url: str, name: str, version: int) -> StudyBundle:
    from analysis.patients import patient_table

    study = cached_study(name, version)
    patients = patient_table(study.subjects, study.responses, study.adverse_events)
    by_subject = {sid: rows for sid, rows in study.measurements.groupby("subject_id", sort=False)}
    return StudyBundle(study, patients, by_subject)


def study_bundle(name: str, version: int) -> StudyBundle:
    """The bundle of a stored version, built once per process (versions never change)."""
    return _bundle(settings.database_url(), name, int(version))


@lru_cache(maxsize=32)
def _cohort_nca(database_url: str, name: str, version: int, start: float, end: float) -> pd.DataFrame:
    from analysis.nca import nca

    return cached_nca(name, version, start, end, lambda: nca(study_bundle(name, version).study.measurements,
                                                              intervals=((start, end),)))


def cohort_nca(name: str, version: int, start: float, end: float) -> pd.DataFrame:
    """NCA of every profile of a stored version for one AUC window; computed once, then cached (in this
    process and in the flask cache shared by all workers)."""
    return _cohort_nca(settings.database_url(), name, int(version), float(start), float(end))


#: Client-side: put a page's state (a query string) in the address bar without re-rendering the page, so a
#: copied link reproduces the view; the browser's back button re-renders the previous state from its URL.
PUSH_QUERY_JS = """function(search) {
    if (search && search !== window.location.search) {
        window.history.pushState(null, "", window.location.pathname + search);
    }
    return window.dash_clientside.no_update;
}"""
