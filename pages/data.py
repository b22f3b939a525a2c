"""Data page: upload a study (CSV files, one .xlsx, or CDISC .xpt/.sas7bdat datasets), see its validation report,
browse stored studies. Uploads in another shape go through a mapping step first (docs/mapping.md)."""
from __future__ import annotations

import base64
import binascii

import dash
from dash import Input, Output, State, callback
from flask import request
from werkzeug.exceptions import BadRequest

import settings
from components.data_import import (
    data_layout,
    identical_view,
    import_log_grid,
    mapping_options,
    message,
    report_view,
    studies_grid,
)
from components.data_mapping import mapping_panel, preview_view
from components.jobs import HIDDEN as JOB_HIDDEN
from components.jobs import SHOWN as JOB_SHOWN
from components.layout import notice, page_header, page_root
from data_access import accounts, store
from data_access.cdisc import detect_kind
from data_access.importer import ImportResult, import_files, name_problem
from data_access.mapping import (
    dump_mapping,
    from_rows,
    load_mapping,
    mapping_checksum,
    needs_mapping,
    preview,
    propose_mapping,
    read_sources,
)
from data_access.readers import SourceFile
from pages._auth import access_snapshot, client_address, current_user, signing_in, visible_studies
from pages._jobs import job_error_text, settle_in_request, settled

dash.register_page(__name__, path="/data", name="Data", order=6, title="Data · CARTscope")


def layout(**_):
    if not current_user().may("import"):
        return page_root([page_header("Data"), notice(
            "Importing needs the data-manager role", "Ask an administrator if you need to import studies or edit "
            "mappings.", kind="warning")], None)
    return data_layout(visible_studies(store.list_studies()), visible_studies(store.import_log()),
                       settings.max_file_bytes())


def decode_uploads(contents: list[str], filenames: list[str]) -> list[SourceFile]:
    """dcc.Upload gives 'data:<type>;base64,<data>' strings; turn them back into named bytes."""
    files = []
    for content, name in zip(contents or [], filenames or [], strict=False):
        try:
            files.append(SourceFile(name, base64.b64decode(content.split(",", 1)[1], validate=True)))
        except (IndexError, binascii.Error):
            files.append(SourceFile(name, b""))  # reported as an empty / unreadable file
    return files


def uploader() -> str:
    """Who imports through the web, for the import log: the signed-in user; in single-user mode, the user a trusted
    proxy names in its header (CARTSCOPE_TRUSTED_PROXY_USER_HEADER), else only the client's address. Without a
    trusted proxy no header names anyone: any client can send X-Forwarded-User, and a server's REMOTE_USER may come
    unchecked from the client's Authorization header."""
    if signing_in():
        return current_user().name
    header = settings.trusted_proxy_user_header()
    user = request.headers.get(header, "").strip() if header else ""
    return user[:200] or f"web upload from {request.remote_addr}"


# An import job runs without a request: who imports, from where and what they may see are settled when it is queued.
settle_in_request("uploader", uploader)
settle_in_request("access", access_snapshot)


def name_taken(name: str) -> str | None:
    """Why the job's user may not import as `name`: a stored study of that name they may not see (names are unique,
    so its existence shows; its data does not)."""
    visible = (settled("access") or {}).get("visible")
    if visible is not None and name not in visible and store.find_study(name) is not None:
        return (f"The name '{name}' belongs to a study you have no access to. Choose another name, or ask an "
                "administrator to grant you that study. Nothing was read or stored.")
    return None


def imported(result: ImportResult, name: str) -> tuple:
    """After an import job: a new study is granted to the data manager who imported it (admins see every study
    anyway); then the outcome, listing what they may see."""
    access = settled("access") or {}
    visible = access.get("visible")
    if result.record is not None and visible is not None and name not in visible:
        accounts.grant(access["user"], name, by=access["user"])
        visible = [*visible, name]
    return outcome(result, name, visible)

#: The stages data_access.importer.import_files reports, in order (its progress texts start with these words).
IMPORT_STAGES = ("reading", "validating", "storing")


def import_progress(stage_text: str) -> tuple[str, str, str]:
    """(bar value, bar max, text) for an import stage's text."""
    step = next((i + 1 for i, word in enumerate(IMPORT_STAGES) if stage_text.startswith(word)), 0)
    return str(step), str(len(IMPORT_STAGES)), f"Step {step} of {len(IMPORT_STAGES)}: {stage_text}…"


def background_import(block: str, button: str, cancel: str) -> dict:
    """An import runs as a background job (pages/_jobs.py): its button is disabled and its progress block shown
    while it runs, the bar follows the stages (reading, validating, storing), and Cancel stops it; a cancelled
    import's transaction never commits, so it stores nothing. A job that fails or is lost says so in the report."""
    return {"background": True, "prevent_initial_call": True,
            "running": [(Output(button, "disabled"), True, False), (Output(block, "style"), JOB_SHOWN, JOB_HIDDEN)],
            "progress": [Output(f"{block}-bar", "value"), Output(f"{block}-bar", "max"),
                         Output(f"{block}-text", "children")],
            "progress_default": ["0", str(len(IMPORT_STAGES)), "Starting the import…"],
            "cancel": [Input(cancel, "n_clicks")],
            "on_error": import_failed}


def import_failed(error: Exception) -> tuple:
    """The report when an import job failed or was lost (its transaction never committed: nothing was stored)."""
    text = job_error_text(error)
    return (message(f"The import did not finish: {text}" + ("" if "stored" in text else " Nothing was stored.")),
            dash.no_update, dash.no_update)


def typed_name(value) -> str:
    """A name typed in a text field ('' for anything else a crafted request may send)."""
    return value.strip() if isinstance(value, str) else ""


def outcome(result: ImportResult, name: str, visible: list[str] | None) -> tuple:
    """The report, stored studies and import log after an import (the report alone when nothing changed), listing
    the `visible` study names only (None: every study)."""
    if result.identical_to is not None:
        return identical_view(result.identical_to.__dict__), dash.no_update, dash.no_update

    def shown(frame):
        return frame if visible is None else frame[frame["name"].isin(visible)].reset_index(drop=True)

    stored = result.record.__dict__ if result.record else None
    return (report_view(result.report.to_records(errors_first=True), stored, name,
                        (result.report.n_errors, result.report.n_warnings)),
            studies_grid(shown(store.list_studies())), import_log_grid(shown(store.import_log())))


@callback(Output("data-selected-files", "children"), Input("data-upload", "filename"))
def show_selected(filenames):
    return f"Selected: {', '.join(filenames)}" if filenames else "No files selected."


@callback(
    Output("data-report", "children"), Output("data-studies", "children"), Output("data-log", "children"),
    Input("data-import", "n_clicks"),
    State("data-upload", "contents"), State("data-upload", "filename"), State("data-name", "value"),
    State("data-mapping-state", "data"),
    **background_import("data-progress", "data-import", "data-cancel"),
)
def run_import(set_progress, _clicks, contents, filenames, name, pending):
    if not filenames:
        return message("Choose the study's files first."), dash.no_update, dash.no_update
    if pending and pending.get("required"):
        return message("These files need a mapping first: check it below, then use 'Import with this mapping'. "
                       "Nothing was stored."), dash.no_update, dash.no_update
    name = typed_name(name)
    if not name:
        return message("Give the study a name (for example BCMA-01 cut-off 2026-06), then import again. Nothing "
                       "was read or stored."), dash.no_update, dash.no_update
    if problem := name_taken(name):
        return message(problem), dash.no_update, dash.no_update
    result = import_files(decode_uploads(contents, filenames), name, source="upload", user=settled("uploader"),
                          client=(settled("access") or {}).get("client"),
                          progress=lambda stage: set_progress(import_progress(stage)))
    return imported(result, name)


# -- the mapping step (files not in CARTscope format; docs/mapping.md) ------------------------------------------------

SHOWN, HIDDEN = {"display": "block"}, {"display": "none"}


@callback(Output("data-mapping-state", "data"), Output("data-mapping-panel", "children"),
          Output("data-map-section", "style"),
          Input("data-upload", "contents"), Input("data-mapping-pick", "value"), State("data-upload", "filename"))
def propose_for_upload(contents, picked, filenames):
    """A proposed (or the picked saved) mapping for an upload that needs one; nothing for CARTscope tables and CDISC
    deliveries CARTscope reads as they are, which keep the direct path."""
    if not filenames:
        return None, [], HIDDEN
    files = decode_uploads(contents, filenames)
    required = True
    if picked:
        text = store.load_mapping_json(picked)
        if text is None:
            return None, message(f"No mapping is saved as '{picked}'."), SHOWN
        mapping = load_mapping(text)
    elif detect_kind(files) == "cartscope":
        if not needs_mapping(files):
            return None, [], HIDDEN
        mapping = propose_mapping(files)
    else:  # CDISC: offered when it has codes or words to translate, required only when the import would fail
        mapping = propose_mapping(files)
        if not mapping["undecided"]:
            return None, [], HIDDEN
        required = any(words for words in mapping["values"].values())  # needs_mapping's rule, without a re-read
    frames = read_sources(files, settings.max_file_bytes())[0] if mapping.get("kind") == "tables" else {}
    return ({"mapping": mapping, "name": picked, "required": required},
            mapping_panel(mapping, frames, picked, required), SHOWN)


def _edited(state: dict, columns, tests, values) -> dict:
    """The pending mapping with what the grids hold now; grids or a state the page could not have made (a crafted
    request) answer 400."""
    try:
        return from_rows(state["mapping"], columns, tests, values)
    except (KeyError, TypeError, AttributeError) as error:
        raise BadRequest(f"the mapping grids hold rows this page does not make ({type(error).__name__})") from error


@callback(Output("data-map-preview-out", "children"), Input("data-map-preview", "n_clicks"),
          State("data-map-columns", "rowData"), State("data-map-tests", "rowData"), State("data-map-values", "rowData"),
          State("data-mapping-state", "data"), State("data-upload", "contents"), State("data-upload", "filename"),
          prevent_initial_call=True)
def preview_mapping(_clicks, columns, tests, values, state, contents, filenames):
    if not state or not filenames:
        return dash.no_update
    tables, report = preview(decode_uploads(contents, filenames), _edited(state, columns, tests, values),
                             settings.max_file_bytes())
    return preview_view(tables, report.to_records())


@callback(Output("data-map-saved", "children"), Output("data-mapping-pick", "options"),
          Input("data-map-save", "n_clicks"), State("data-map-name", "value"),
          State("data-map-columns", "rowData"), State("data-map-tests", "rowData"), State("data-map-values", "rowData"),
          State("data-mapping-state", "data"), prevent_initial_call=True)
def save_mapping(_clicks, name, columns, tests, values, state):
    name = typed_name(name)
    if not state:
        return dash.no_update, dash.no_update
    if problem := name_problem(name, "mapping"):
        return f"Not saved: {problem}.", dash.no_update
    store.save_mapping(name, dump_mapping(_edited(state, columns, tests, values)), user=uploader(),
                       client=client_address())
    return f"Saved as '{name}': pick it above for the next delivery.", mapping_options()


@callback(Output("data-report", "children", allow_duplicate=True), Output("data-studies", "children",
                                                                           allow_duplicate=True),
          Output("data-log", "children", allow_duplicate=True), Input("data-map-import", "n_clicks"),
          State("data-map-columns", "rowData"), State("data-map-tests", "rowData"), State("data-map-values", "rowData"),
          State("data-mapping-state", "data"), State("data-upload", "contents"), State("data-upload", "filename"),
          State("data-name", "value"), **background_import("data-map-progress", "data-map-import", "data-map-cancel"))
def import_with_mapping(set_progress, _clicks, columns, tests, values, state, contents, filenames, name):
    """The whole delivery through the edited mapping: stored as one new version, or nothing with every problem."""
    if not _clicks or not state or not filenames:
        return dash.no_update, dash.no_update, dash.no_update
    name = typed_name(name)
    if not name:
        return message("Give the study a name (above), then import again. Nothing was read or stored."), \
            dash.no_update, dash.no_update
    if problem := name_taken(name):
        return message(problem), dash.no_update, dash.no_update
    mapping = _edited(state, columns, tests, values)
    saved = state.get("name")
    saved_text = store.load_mapping_json(saved) if saved else None
    unchanged = saved_text is not None and mapping_checksum(load_mapping(saved_text)) == mapping_checksum(mapping)
    result = import_files(decode_uploads(contents, filenames), name, source="upload", user=settled("uploader"),
                          mapping=mapping, mapping_name=saved if unchanged else None,
                          client=(settled("access") or {}).get("client"),
                          progress=lambda stage: set_progress(import_progress(stage)))
    return imported(result, name)
