"""The analyst's NCA choices through the server, as the browser asks for them: select samples by clicking the
patient figure, leave one out and choose lambda-z points with a reason; the patient page, the cohort NCA and the
settings file then apply them; a viewer may not make them; each is in the history and the audit trail."""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from analysis.nca import NCAOptions
from analysis.nca.engine import run_nca
from data_access import accounts, choices, store
from data_access.importer import ensure_demo_study
from tests.pages.test_sign_in import page_state
from tests.servers import Client, add_users, pattern_id, procfile_server

USERS = {"ada": ("admin", []), "ana": ("analyst", ["demo"]), "vic": ("viewer", ["demo"])}
STATE = pattern_id(page="patients", type="cs-page-state") + ".data"
FIGURE = pattern_id(name="kinetics", page="patients", type="cs-graph") + ".clickData"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("choices")
    url = f"sqlite:///{tmp / 'site.db'}"
    engine = store.get_engine(url)
    ensure_demo_study(engine)
    add_users(url, USERS)
    with procfile_server(url, tmp) as base:
        yield base, engine


def signed_in(site, user: str) -> Client:
    client = Client(site[0])
    assert client.sign_in(user).status_code == 302
    return client


def click(day: float, analyte: str = "car_copies", specimen: str = "PB") -> dict:
    return {"points": [{"x": day, "y": 100.0, "customdata": ["100 copies/µg gDNA", "quantified", analyte, specimen]}]}


def select(client: Client, days: list[float]) -> dict:
    selection = {}
    for day in days:
        answer = client.callback("nca-choice-selection.data", {FIGURE: click(day), "nca-choice-selection.data":
                                                                selection}, FIGURE)
        assert answer.status_code == 200, answer.text
        selection = answer.json()["response"]["nca-choice-selection"]["data"]
    return selection


def choose(client: Client, button: str, selection: dict, reason: str, state: dict):
    values = {f"{button}.n_clicks": 1, "nca-choice-selection.data": selection, "nca-choice-reason.value": reason,
              "nca-choice-revision.data": {"n": 0}, STATE: state}
    return client.callback("nca-choice-revision.data", values, f"{button}.n_clicks")


def test_an_analyst_leaves_a_sample_out_and_chooses_lambda_z_points_and_every_nca_applies_them(site):
    ana = signed_in(site, "ana")
    state = page_state(ana.page("/patients/DM-003", "?study=demo").json(), "patients")
    assert select(ana, [21, 28, 21]) == {"analyte": "car_copies", "specimen": "PB", "days": [28.0]}  # 2nd click: off

    refused = choose(ana, "nca-choice-exclude", select(ana, [21]), "", state)
    assert refused.status_code == 200 and "a reason is needed" in refused.text
    assert choices.history("demo", 1, site[1]).empty

    done = choose(ana, "nca-choice-exclude", select(ana, [21]), "haemolysed sample", state)
    assert done.status_code == 200 and "1 sample left out of the NCA" in done.text
    done = choose(ana, "nca-choice-lambda-z", select(ana, [28, 63, 90]), "persistence phase only", state)
    assert done.json()["response"]["nca-choice-message"]["children"] == "λz from the chosen points."

    chosen = choices.current_choices("demo", 1, site[1])
    assert chosen.exclusions == (("DM-003", "car_copies", "PB", 21.0),)
    assert chosen.lambda_z_points == (("DM-003", "car_copies", "PB", (28.0, 63.0, 90.0)),)
    changes = choices.history("demo", 1, site[1])
    assert changes["user_name"].tolist() == ["ana", "ana"] and changes["reason"].tolist()[0] == "haemolysed sample"
    audited = accounts.audit_events(user_name="ana", action="nca choice", engine=site[1])
    assert len(audited) == 2 and set(audited["subject_id"]) == {"DM-003"}

    # the patient page recomputes with them: the half-life is the chosen points' and says so
    update = ana.callback("patient-summary.children", {
        "patient-auc-start.value": 0, "patient-auc-end.value": 28, "patient-auc-method.value": "linuplogdown",
        "patient-blq.value": "pknca", "patient-days.value": "all", "patient-panels.value": [],
        "patient-model-fit.value": [], "nca-choice-revision.data": {"n": 2}, STATE: state}, "nca-choice-revision.data")
    assert update.status_code == 200
    store_study = store.load_study("demo", engine=site[1])
    m = store_study.measurements
    rows = m[(m["subject_id"] == "DM-003") & (m["analyte"] == "car_copies") & (m["specimen"] == "PB")]
    expected = run_nca(rows, NCAOptions(intervals=((0, 28),), exclusions=chosen.exclusions,
                                        lambda_z_points=chosen.lambda_z_points)).iloc[0]
    kept = rows[rows["day"].isin([28, 63, 90])]
    slope = np.polyfit(kept["day"], np.log(kept["value"]), 1)[0]
    assert expected["lambda_z"] == pytest.approx(-slope) and expected["lambda_z_selection"] == "manual"
    summary = json.dumps(update.json()["response"], ensure_ascii=False)
    assert "(manual λz)" in summary and f"{np.log(2) / -slope:.3g} (manual λz)" in summary

    # the cohort page lists them, and its settings file holds them with the page's options
    kinetics = ana.page("/kinetics", "?study=demo").json()
    listed = json.dumps(kinetics, ensure_ascii=False)
    assert "haemolysed sample" in listed and "persistence phase only" in listed
    key = pattern_id(page="kinetics", type="cs-page-state") + ".data"
    answer = ana.callback("kinetics-settings-download.data", {"kinetics-export-settings.n_clicks": 1,
                                                              key: page_state(kinetics, "kinetics")},
                          "kinetics-export-settings.n_clicks")
    download = answer.json()["response"]["kinetics-settings-download"]["data"]
    document = json.loads(base64.b64decode(download["content"]) if download.get("base64") else download["content"])
    parsed, options = choices.choices_from_document(document)
    assert (parsed.exclusions, parsed.lambda_z_points) == (chosen.exclusions, chosen.lambda_z_points)
    assert options["intervals"] == [[0.0, 28.0]] and document["study"] == "demo"


def test_a_viewer_may_not_make_choices(site):
    vic = signed_in(site, "vic")
    state = page_state(vic.page("/patients/DM-004", "?study=demo").json(), "patients")
    selection = select(vic, [14])  # selecting is only looking
    before = len(choices.history("demo", 1, site[1]))
    assert choose(vic, "nca-choice-exclude", selection, "trying", state).status_code == 403
    assert len(choices.history("demo", 1, site[1])) == before


def test_named_settings_are_saved_by_an_analyst_shared_and_loaded_into_the_controls(site):
    ana = signed_in(site, "ana")
    key = pattern_id(page="kinetics", type="cs-page-state") + ".data"
    kinetics = page_state(ana.page("/kinetics", "?study=demo&start=0&end=14&blq=zero&group=cov:sex").json(),
                          "kinetics")
    saved = ana.callback("settings-save-message.children", {"settings-save-button.n_clicks": 1,
                                                            "settings-save-name.value": " primary analysis ",
                                                            key: kinetics}, "settings-save-button.n_clicks")
    assert saved.status_code == 200 and "Saved as 'primary analysis'" in saved.text
    named = choices.named_settings("demo", site[1])
    assert named["name"].tolist() == ["primary analysis"] and named["saved_by"].tolist() == ["ana"]
    assert named["document"].iloc[0]["options"] == {"intervals": [[0.0, 14.0]], "auc_method": "linuplogdown",
                                                    "blq": "zero", "analyte": "car_copies", "specimen": "PB",
                                                    "grouping": "cov:sex"}
    assert not accounts.audit_events(user_name="ana", action="settings saved", engine=site[1]).empty

    vic = signed_in(site, "vic")
    fresh = page_state(vic.page("/kinetics", "?study=demo").json(), "kinetics")
    assert vic.callback("settings-save-message.children", {"settings-save-button.n_clicks": 1,
                                                           "settings-save-name.value": "mine", key: fresh},
                        "settings-save-button.n_clicks").status_code == 403
    loaded = vic.callback("kinetics-settings-loaded.children", {"kinetics-settings-load.n_clicks": 1,
                                                                "kinetics-settings-list.value": "primary analysis",
                                                                key: fresh}, "kinetics-settings-load.n_clicks")
    assert loaded.status_code == 200, loaded.text
    values = {k: v[next(iter(v))] for k, v in loaded.json()["response"].items()}
    assert values["kinetics-group"] == "cov:sex" and values["kinetics-blq"] == "zero"
    assert (values["kinetics-start"], values["kinetics-end"]) == (0.0, 14.0)
    assert "Loaded 'primary analysis' (saved by ana)" in values["kinetics-settings-loaded"]
