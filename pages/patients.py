"""Patients page: not built yet (issue 4); says so plainly."""
import dash

from components.layout import not_built

dash.register_page(__name__, path="/patients", name="Patients", order=1, title="Patients · CARTscope")

PLANNED = (
    "one patient on one screen: the patient's facts, CAR transgene (qPCR) and CAR+ T cells (flow) in "
    "blood and marrow, marrow plasma cells and IL-6 on one time axis, with Cmax, Tmax, AUC and "
    "persistence computed live."
)


def layout(**_):
    return not_built("Patients", PLANNED, issue=4)
