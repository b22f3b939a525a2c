"""What every page request starts from, resolved once: the study the URL asks for (?study=NAME&version=N, the
newest version by default), its loaded data and note, and slide mode (?slide=16x9 or 4x3). Also the caches the
pages share: a loaded study per version (in this process; versions never change) and the cohort NCA per set of
options (in this process and in the flask cache shared by all workers)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from functools import lru_cache
from urllib.parse import parse_qs, urlencode

import pandas as pd
from dash import html
from werkzeug.exceptions import BadRequest

import settings
from analysis.ck.cohort import fit_cohort
from analysis.nca import NCAOptionError, NCAOptions
from analysis.nca.engine import run_nca
from analysis.views.common import StudyData
from components.frame import HALF, Canvas, screen, slide
from components.layout import notice
from components.text import shorten, unplain
from data_access import store
from data_access.cache import cache, cached_study
from data_access.choices import Choices, current_choices
from pages._auth import audit, require_study, visible_studies

#: URL parameters that choose the study and the medium; links to other pages carry them along.
STUDY_PARAMS = ("study", "version", "slide")
#: ?slide= values and the canvases they mean ("1" is kept for links made before 4:3 existed).
SLIDE_CODES = {"16x9": "16:9", "1": "16:9", "4x3": "4:3"}
SLIDE_PARAMS = {"16:9": "16x9", "4:3": "4x3"}


def query_params(search: str | None) -> dict[str, str]:
    """A URL query string (`?a=1&b=2`) as a dict, first value of each key."""
    return {k: v[0] for k, v in parse_qs((search or "").lstrip("?")).items()}


def query_string(params: dict) -> str:
    """The inverse of query_params: `?a=1&b=2` (None values left out), or "" when there is nothing to say."""
    kept = {k: v for k, v in params.items() if v is not None and v != ""}
    return ("?" + urlencode(kept)) if kept else ""


def study_query(search: str | None) -> str:
    """Only the study-choosing part of a query string, for links to other pages."""
    return query_string({k: v for k, v in query_params(search).items() if k in STUDY_PARAMS})


def slide_aspect(value) -> str | None:
    """?slide= -> '16:9', '4:3' or None (normal mode, also for anything that is not a slide code)."""
    return SLIDE_CODES.get(value) if isinstance(value, str) else None


def first(value) -> str | None:
    """A URL parameter as Dash passes it (a list when the address repeats it) as one string: the first."""
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value is None else str(value)


def single_values(query: dict) -> dict[str, str]:
    """A page's URL parameters, one string each (the first of a repeated one)."""
    return {k: first(v) for k, v in query.items() if first(v) is not None}


def one_of(value, allowed) -> bool:
    """Whether a URL parameter or control value is one of `allowed` (False for a value of the wrong type)."""
    return isinstance(value, str) and value in allowed


def quoted(text: str) -> str:
    """Text from the address as a message quotes it: printable, and cut with an ellipsis when long."""
    return shorten("".join(c if c.isprintable() else "\ufffd" for c in str(text)))


def clicked_subject(click) -> str | None:
    """The patient a click on a figure names (the clicked point's customdata: the id as plotly text, see
    components.text.plain), or None."""
    points = click.get("points") if isinstance(click, dict) else None
    point = points[0] if isinstance(points, list) and points else None
    subject = point.get("customdata") if isinstance(point, dict) else None
    return unplain(subject) if isinstance(subject, str) else None


WINDOW_ERROR = "The AUC window needs a start day before its end day."
#: The AUC window's days are within this many days of the infusion (100 years; beyond it a number is a typo).
DAY_LIMIT = 36_500


def parse_window(raw: dict, state: dict) -> str | None:
    """Put a valid AUC window from `raw` (URL query or controls: 'start', 'end') into `state` as URL strings, and
    return None; or leave `state` as it is and return WINDOW_ERROR. NCAOptions decides what is valid."""
    if raw.get("start") in (None, "") and raw.get("end") in (None, ""):
        return None
    try:
        start, end = float(raw.get("start", state["start"])), float(raw.get("end", state["end"]))
        if not (-DAY_LIMIT <= start < end <= DAY_LIMIT):  # also NaN and ±inf
            return WINDOW_ERROR
        NCAOptions(intervals=((start, end),))
    except (TypeError, ValueError, OverflowError, NCAOptionError):
        return WINDOW_ERROR
    state["start"], state["end"] = f"{start:g}", f"{end:g}"
    return None


# ---- the study selector in the header ------------------------------------------------------------------------

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
    """?version= -> a version number, None when not given, or -1 (never a stored version) when it is not a number
    a version can be."""
    if version in (None, ""):
        return None
    try:
        number = int(version)
    except (TypeError, ValueError):
        return -1
    return number if 1 <= number <= store.MAX_VERSION else -1


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
    unknown_version = version is not None and version not in set(versions["version"].astype(int))
    if version == newest or unknown_version:  # an unknown version: the page shows the newest, and says so
        version = None
    params.pop("version", None)
    if name:
        params["study"] = name
    if version is not None:
        params["version"] = str(version)
    repeated = any(len(values) > 1 for key, values in parse_qs((search or "").lstrip("?")).items()
                   if key in STUDY_PARAMS)
    # An address the page answers with a note (an unknown version, a repeated parameter) is left as it was asked:
    # rewriting it would draw the page again without the note.
    keep_address = not from_selector and (unknown_version or repeated)
    shown = versions[versions["version"] == (version or newest)]
    return Selection(
        name=name, version=version, newest=newest, search=(search or "") if keep_address else query_string(params),
        study_options=[{"label": n, "value": n} for n in sorted(studies["name"].unique())],
        version_options=[{"label": f"v{v}" + (" (newest)" if v == newest else ""), "value": int(v)}
                         for v in versions["version"]],
        simulated=bool(len(shown) and shown["simulated"].iloc[0]),
    )


# ---- the page context ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PageContext:
    """One page request's study, its note and slide mode."""

    data: StudyData
    slide: str | None            # '16:9', '4:3' or None
    notes: tuple[str, ...] = ()  # what the address asked for that does not exist, and what is shown instead

    @property
    def note(self) -> str:
        return self.data.note

    @property
    def study(self):
        return self.data.study

    @property
    def name(self) -> str:
        return self.data.study.name

    @property
    def version(self) -> int:
        return int(self.data.study.version)

    @property
    def label(self) -> str:
        return self.data.study.label

    @property
    def simulated(self) -> bool:
        return bool(self.data.study.simulated)

    def params(self, slide: bool = True) -> dict[str, str]:
        """The URL parameters that reproduce this context."""
        out = {"study": self.name, "version": str(self.version)}
        if slide and self.slide:
            out["slide"] = SLIDE_PARAMS[self.slide]
        return out

    def query(self, slide: bool = True, **extra) -> str:
        return query_string({**self.params(slide), **extra})

    def canvas(self, half: bool = False) -> Canvas:
        """Where a page draws a figure: a card on screen (full width or one of two columns), or the slide."""
        return slide(self.slide) if self.slide else screen(HALF if half else 1150)

    def export_canvas(self, chrome: bool = True, height: int | None = None) -> Canvas:
        """Where exports draw: the slide size of slide mode (16:9 unless 4:3 is chosen)."""
        return slide(self.slide or "16:9", chrome=chrome, height=height)


def page_context(study, version, slide_value=None) -> tuple[PageContext | None, html.Div | None]:
    """The context a page's URL parameters ask for (each as Dash passes it: a string, None, or a list when the
    address repeats it), or a friendly notice saying why there is none. A version or slide mode that does not exist
    falls back to the newest version or normal mode, and the context's notes say so."""
    notes = [f"The address gives '{key}' {len(value)} times; using the first, '{quoted(value[0])}'."
             for key, value in (("study", study), ("version", version), ("slide", slide_value))
             if isinstance(value, list) and value]
    study, version, slide_value = first(study), first(version), first(slide_value)
    stored = store.list_studies()
    studies = visible_studies(stored)
    name = study or default_study_name(studies)
    if name is None and not stored.empty:
        return None, notice("No study shared with you yet", "Ask an administrator to grant you the studies you "
                            "work on.")
    if name is None:
        return None, notice("No study stored yet", "Import one on the Data page or with "
                            "`python -m data_access import PATH --name NAME`.")
    if name not in set(studies["name"]):
        if name in set(stored["name"]):  # there, but not for this user: the notice is the same, the trail says so
            audit("access refused", study=name)
        known = ", ".join(sorted(studies["name"].unique())) or "none"
        return None, notice("No such study", f"There is no stored study '{quoted(name)}'. Stored studies: {known}.",
                            kind="warning")
    record = store.find_study(name, parse_version(version))
    if record is None:
        record = store.find_study(name)
        notes.append(f"The address asked for version {quoted(version)} of '{quoted(name)}', which does not exist; "
                     f"showing the newest (version {record.version}).")
    slide = slide_aspect(slide_value)
    if slide_value and slide is None:
        notes.append(f"The address asked for slide mode '{quoted(slide_value)}', which does not exist (16x9 or "
                     "4x3); showing the page without it.")
    context = PageContext(study_data(record.name, record.version), slide, tuple(notes))
    audit("study view", study=record.name, version=record.version)
    return context, None


def context_from_state(state: dict) -> PageContext:
    """The context of a page state (what a page keeps in its state store: study, version, slide, ...). A state no
    page makes (from a crafted callback request: not a dict, no such study or version) is refused with a 400."""
    name = state.get("study") if isinstance(state, dict) else None
    version = parse_version(state.get("version")) if isinstance(name, str) and name.isprintable() else None
    if version in (None, -1) or store.find_study(name, version) is None:
        raise BadRequest("The page state names no stored study version.")
    return PageContext(study_data(name, version), slide_aspect(state.get("slide")))


@lru_cache(maxsize=8)
def _study_data(database_url: str, name: str, version: int) -> StudyData:
    return StudyData.of(cached_study(name, version))


def study_data(name: str, version: int) -> StudyData:
    """A stored version's data, built once per process (versions never change); 403 for a study the signed-in user
    may not see."""
    require_study(name)
    return _study_data(settings.database_url(), name, int(version))


# ---- the cohort NCA cache --------------------------------------------------------------------------------------

@lru_cache(maxsize=32)
def _cohort_nca(database_url: str, name: str, version: int, options: NCAOptions) -> pd.DataFrame:
    key = (f"nca:{database_url}:{name}:{version}:{options.intervals}:{options.auc_method}:{options.blq}:"
           f"{options.extrapolate}:{options.car_day0_zero}:{choices_digest(options)}")
    value = cache.get(key)
    if value is None:
        value = run_nca(study_data(name, version).study.measurements, options)
        cache.set(key, value)
    return value


@lru_cache(maxsize=16)
def _cohort_ck(database_url: str, name: str, version: int, analyte: str, specimen: str):
    key = f"ck:{database_url}:{name}:{version}:{analyte}:{specimen}"
    value = cache.get(key)
    if value is None:
        value = fit_cohort(study_data(name, version).study.measurements, analyte, specimen)
        cache.set(key, value)
    return value


def cohort_ck(ctx: PageContext, analyte: str = "car_copies", specimen: str = "PB"):
    """The cellular-kinetic model fitted to every profile of one analyte and specimen (analysis.ck.cohort.CohortFit,
    the residual SD pooled over them, as `python -m analysis ck` does); computed once per study version, then
    cached in this process and in the flask cache shared by all workers."""
    return _cohort_ck(settings.database_url(), ctx.name, ctx.version, analyte, specimen)


def study_choices(ctx: PageContext) -> Choices:
    """The analyst's NCA choices in force for the context's study version (data_access/choices.py)."""
    return current_choices(ctx.name, ctx.version)


def with_choices(options: NCAOptions, choices: Choices) -> NCAOptions:
    return replace(options, exclusions=choices.exclusions, lambda_z_points=choices.lambda_z_points)


def choices_digest(options: NCAOptions) -> str:
    """A short name for the choices an NCA applied (part of every cache key of an NCA and what follows from it)."""
    if not (options.exclusions or options.lambda_z_points):
        return "none"
    return hashlib.sha256(repr((options.exclusions, options.lambda_z_points)).encode()).hexdigest()[:16]


def nca_options(ctx: PageContext, start: float = 0.0, end: float = 28.0, auc_method: str = "linuplogdown",
                blq: str = "pknca") -> NCAOptions:
    """The options of the study's NCA for one window, method and BLQ rule, with the analyst's choices."""
    return with_choices(NCAOptions(intervals=((float(start), float(end)),), auc_method=auc_method, blq=blq,
                                   kinds=ctx.study.nca_kinds), study_choices(ctx))


def cohort_nca(ctx: PageContext, start: float = 0.0, end: float = 28.0, auc_method: str = "linuplogdown",
               blq: str = "pknca") -> pd.DataFrame:
    """NCA of every profile of the context's study for one AUC window, method and BLQ rule, with the analyst's
    choices; computed once per choices, then cached in this process and in the flask cache shared by all workers."""
    return nca_with(ctx, nca_options(ctx, start, end, auc_method, blq))


def nca_with(ctx: PageContext, options: NCAOptions) -> pd.DataFrame:
    """`cohort_nca` for options already made (nca_options), so the choices are read once."""
    return _cohort_nca(settings.database_url(), ctx.name, ctx.version, options)
