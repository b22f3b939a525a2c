"""The page shown for an address CARTscope does not have."""
import dash
from dash import dcc, html

from components.layout import page_header

dash.register_page(__name__, path="/404", name="Not found", title="Not found · CARTscope")


def layout(**_):
    return html.Div([
        page_header("Page not found"),
        html.Div(className="cs-notice cs-notice-warning", id="not-found", children=[
            html.H2("There is no page at this address."),
            html.P(["Go to the ", dcc.Link("Overview", href="/"), " or pick a page from the menu above."]),
        ]),
    ])
