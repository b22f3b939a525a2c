"""Safety page: not built yet (issue 5); says so plainly."""
import dash

from components.layout import not_built

dash.register_page(__name__, path="/safety", name="Safety", order=3, title="Safety · CARTscope")

PLANNED = (
    "adverse events by CTCAE v5 term and grade (CRS and ICANS by ASTCT), CRS/ICANS onset and duration, "
    "and CRS grade against IL-6 and CAR-T expansion."
)


def layout(**_):
    return not_built("Safety", PLANNED, issue=5)
