"""Efficacy page: not built yet (issue 5); says so plainly."""
import dash

from components.layout import not_built

dash.register_page(__name__, path="/efficacy", name="Efficacy", order=4, title="Efficacy · CARTscope")

PLANNED = (
    "best response (IMWG) by dose level, ORR with exact 95% CIs, and a swimmer plot of every patient."
)


def layout(**_):
    return not_built("Efficacy", PLANNED, issue=5)
