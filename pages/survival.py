"""Survival page: not built yet (issue 5); says so plainly."""
import dash

from components.layout import not_built

dash.register_page(__name__, path="/survival", name="Survival", order=5, title="Survival · CARTscope")

PLANNED = (
    "Kaplan-Meier curves of PFS, OS and duration of response with CIs, censor marks, numbers at risk and "
    "log-rank tests by dose level."
)


def layout(**_):
    return not_built("Survival", PLANNED, issue=5)
