"""Overview: what the selected study holds (patients, doses, follow-up, samples)."""
import dash

from analysis.overview import summarise_study
from components.overview import overview_layout
from pages._exports import slide_note
from pages._study import load_selected

dash.register_page(__name__, path="/", name="Overview", order=0, title="Overview · CARTscope")


def layout(study: str | None = None, version: str | None = None, slide: str | None = None, **_):
    selected, problem = load_selected(study, version)
    if problem is not None:
        return problem
    summary = summarise_study(selected.subjects, selected.measurements, selected.adverse_events,
                              selected.responses)
    note = slide_note(f"?study={selected.name}&version={selected.version}") if slide == "1" else None
    return overview_layout(summary, selected.subjects, selected.label, selected.simulated, note)
