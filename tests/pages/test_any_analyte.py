"""Every page of a study with none of the built-in analytes (only ones it declared, e.g. from a CDISC delivery) and
without responses or adverse events: nothing fails, the selectors offer what it measured, units come from it."""
import json

import pytest

from data_access import store
from data_access.importer import import_files
from tests.conftest import make_files

STUDY = "declared-only"
FILES = {
    "analytes.csv": "code,label,unit,kind,specimens,method\n"
                    "CARTX,CAR-X cells,cells/µL,cell_kinetics,PB,flow\nSIL2R,Soluble IL-2 receptor,U/mL,biomarker,,\n",
    "measurements.csv": "subject_id,analyte,specimen,day,value,unit,lloq,blq\n"
                        + "".join(f"{s},CARTX,PB,{d},{v},cells/uL,1,\n" for s in ("S1", "S2")
                                  for d, v in ((1, 5), (7, 300), (14, 120), (28, 20), (90, 2)))
                        + "".join(f"{s},SIL2R,plasma,{d},{v},U/mL,,\n" for s in ("S1", "S2")
                                  for d, v in ((-3, 400), (3, 2500), (10, 900))),
    "adverse_events.csv": None,
    "responses.csv": None,
}


@pytest.fixture(scope="module")
def declared_study(app):
    result = import_files(make_files(FILES), STUDY, source="test", engine=store.get_engine())
    assert result.stored or result.identical_to, result.report.to_text()
    return STUDY


def test_every_page_lays_out_and_exports(declared_study):
    from pages import efficacy, kinetics, overview, patients, safety, survival
    from pages._context import page_context

    for module in (overview, patients, kinetics, safety, efficacy, survival):
        layout = module.layout(study=declared_study)
        assert "Traceback" not in json.dumps(layout.to_plotly_json(), default=str)
    layout = patients.layout(subject_id="S1", study=declared_study)
    text = json.dumps(layout.to_plotly_json(), default=str, ensure_ascii=False)
    assert "CAR-X cells (cells/µL)" in text and "Soluble IL-2 receptor" in text
    context, _ = page_context(declared_study, None, None)
    for module, state in ((kinetics, {}), (patients, {"_subject": "S1"}), (overview, {}), (safety, {})):
        for figure in module.figures(context, state, context.canvas(), False):
            assert figure.figure["data"] is not None
        module.tables(context, state)


def test_kinetics_offers_only_what_the_study_measured(declared_study):
    from pages import kinetics
    from pages._context import page_context

    context, _ = page_context(declared_study, None, None)
    assert context.data.profiles == {"CARTX": ["PB"], "SIL2R": ["plasma"]}
    state, _ = kinetics.clean_state({}, context.data.profiles)
    assert (state["analyte"], state["specimen"]) == ("CARTX", "PB")
    view = kinetics.view_of(context, state)
    assert view.unit == "cells/µL" and view.kind == "cell_kinetics"
    assert view.table["cmax"].tolist() == [300.0, 300.0]  # the Day-0 zero and AUC as for CAR transgene
    biomarker = kinetics.view_of(context, kinetics.clean_state({"analyte": "SIL2R"}, context.data.profiles)[0])
    assert biomarker.table["peak_fold_change"].tolist() == [2500 / 400] * 2
