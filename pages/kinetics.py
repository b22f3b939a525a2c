"""Kinetics page: not built yet (issue 4); says so plainly."""
import dash

from components.layout import not_built

dash.register_page(__name__, path="/kinetics", name="Kinetics", order=2, title="Kinetics · CARTscope")

PLANNED = (
    "cohort kinetics: every patient's expansion and persistence curves with median and spread, an NCA "
    "table (Cmax, Tmax, AUC0-28, Tlast, half-life) and exposure-response plots against dose, response, "
    "CRS and IL-6."
)


def layout(**_):
    return not_built("Kinetics", PLANNED, issue=4)
