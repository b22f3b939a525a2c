"""The one figure theme: white, large type for slides, a colour-blind-safe palette used the same way everywhere."""
from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import sample_colorscale

from analysis.groups import ordered_dose_levels

FONT_FAMILY = "Inter, 'Helvetica Neue', Arial, sans-serif"
INK = "#1f2933"
MUTED = "#6b7785"
GRID = "#e6e9ee"

#: Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000"]
SPECIMEN_COLORS = {"PB": "#0072B2", "BM": "#D55E00", "serum": "#009E73"}
RESPONSE_GROUP_COLORS = {"≥CR": "#0072B2", "VGPR/PR": "#56B4E9", "<PR": "#D55E00"}
#: CTCAE grades, light to dark (ordered by lightness, so they read without hue too).
GRADE_COLORS = {1: "#FDAE61", 2: "#F46D43", 3: "#D73027", 4: "#7F0000", 5: "#000000"}
#: Worst-CRS groups in the cohort figures (0 = no CRS, 3 = grade ≥3), in the grade colours.
CRS_GROUP_COLORS = {0: "#9AA5B1", 1: GRADE_COLORS[1], 2: GRADE_COLORS[2], 3: GRADE_COLORS[3]}

TEMPLATE_NAME = "cartscope"


def _template() -> go.layout.Template:
    axis = dict(showline=True, linecolor=INK, linewidth=1, ticks="outside", tickcolor=INK, gridcolor=GRID,
                zeroline=False, title=dict(font=dict(size=15)), tickfont=dict(size=13), automargin=True)
    return go.layout.Template(layout=go.Layout(
        font=dict(family=FONT_FAMILY, size=14, color=INK),
        paper_bgcolor="white", plot_bgcolor="white",
        colorway=OKABE_ITO,
        xaxis=dict(axis, showgrid=False), yaxis=dict(axis, showgrid=True),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0, font=dict(size=13),
                    bgcolor="rgba(255,255,255,0)"),
        title=dict(x=0, xanchor="left", font=dict(size=17)),
        margin=dict(l=70, r=30, t=60, b=60),
        hoverlabel=dict(font=dict(family=FONT_FAMILY, size=13)),
    ))


pio.templates[TEMPLATE_NAME] = _template()


def dose_colors(dose_levels: list[str]) -> dict[str, str]:
    """Dose levels low to high as light to dark blue, so the order reads at a glance and in grey."""
    ordered = ordered_dose_levels(dose_levels)
    if len(ordered) == 1:
        return {ordered[0]: "#0072B2"}
    shades = sample_colorscale("Blues", [0.45 + 0.5 * i / (len(ordered) - 1) for i in range(len(ordered))])
    return dict(zip(ordered, shades, strict=False))


def footnote(fig: go.Figure, text: str) -> go.Figure:
    """Put a footnote (method, data source, 'simulated data') under the plot area, left-aligned."""
    fig.add_annotation(text=text, xref="paper", yref="paper", x=0, y=0, yshift=-66, showarrow=False,
                       xanchor="left", yanchor="top", align="left", font=dict(size=11, color=MUTED))
    fig.update_layout(margin=dict(b=max(fig.layout.margin.b or 60, 100)))
    return fig


def new_figure(title: str | None = None, height: int = 420) -> go.Figure:
    """An empty figure on the CARTscope template."""
    fig = go.Figure(layout=dict(template=TEMPLATE_NAME, height=height))
    if title:
        fig.update_layout(title=dict(text=title))
    return fig


_TEMPLATE_JSON: dict | None = None


def template_json() -> dict:
    """The theme as a plain dict, for figures built as dicts (fast callbacks skip plotly's validation)."""
    global _TEMPLATE_JSON
    if _TEMPLATE_JSON is None:
        _TEMPLATE_JSON = pio.templates[TEMPLATE_NAME].to_plotly_json()
    return _TEMPLATE_JSON


def fmt_sig(value, digits: int = 3) -> str:
    """Numbers as people read them: 3 significant digits, thousands separators, no exponent; blank -> '–'."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "–"
    if x != x:
        return "–"
    if x == 0:
        return "0"
    from math import floor, log10

    rounded = float(f"{x:.{digits}g}")
    decimals = max(digits - 1 - floor(log10(abs(rounded))), 0)
    return f"{rounded:,.{decimals}f}"


def hex_to_rgba(color: str, alpha: float) -> str:
    """'#0072B2' or 'rgb(0, 114, 178)' -> 'rgba(0,114,178,alpha)'."""
    if color.startswith("rgb"):
        r, g, b = (round(float(v)) for v in color[color.index("(") + 1:color.index(")")].split(",")[:3])
    else:
        color = color.lstrip("#")
        r, g, b = (int(color[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def wrap_note(text: str, width: int = 110) -> str:
    """Break a footnote into lines of at most `width` characters (keeping existing <br> breaks)."""
    import textwrap

    return "<br>".join("<br>".join(textwrap.wrap(part, width)) or part for part in text.split("<br>"))
