"""What a page shows while a background job runs (pages/_jobs.py): a progress bar, what is being done, and a Cancel
button; hidden until the job's callback shows it (its `running` output) and hidden again when the job ends."""
from __future__ import annotations

from dash import html

SHOWN, HIDDEN = {"display": "flex"}, {"display": "none"}


def job_progress(block_id: str, cancel_id: str, cancel_label: str = "Cancel", bar: bool = True) -> html.Div:
    """`block_id` (shown while the job runs) holding `{block_id}-bar` (value/max), `{block_id}-text` and the
    `cancel_id` button."""
    return html.Div(id=block_id, className="cs-progress", style=HIDDEN, role="status", children=[
        *([html.Progress(id=f"{block_id}-bar", value="0", max="1")] if bar else []),
        html.Span(id=f"{block_id}-text", className="cs-progress-text"),
        html.Button(cancel_label, id=cancel_id, n_clicks=0, className="cs-button cs-button-secondary cs-button-small"),
    ])
