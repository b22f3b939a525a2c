"""The one figure theme: white, a colour-blind-safe palette used the same way everywhere, and the colours of
things that recur (dose levels, response groups, CTCAE grades, specimens, IMWG responses). Type sizes, titles,
footnotes and margins are the frame's (components/frame.py)."""
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
SPECIMEN_COLORS = {"PB": "#0072B2", "BM": "#D55E00", "serum": "#009E73", "plasma": "#CC79A7"}
RESPONSE_GROUP_COLORS = {"≥CR": "#0072B2", "VGPR/PR": "#56B4E9", "<PR": "#D55E00"}
#: CTCAE grades, light to dark (ordered by lightness, so they read without hue too).
#: The fitted cellular-kinetic model's curve (Okabe-Ito reddish purple: apart from the specimens' blue and orange).
MODEL_FIT_COLOR = "#CC79A7"
GRADE_COLORS = {1: "#FDAE61", 2: "#F46D43", 3: "#D73027", 4: "#7F0000", 5: "#000000"}
#: Worst-CRS groups in the cohort figures, in the grade colours (labels from analysis.kinetics.CRS_GROUPS).
CRS_GROUP_COLORS = {"No CRS": "#9AA5B1", "CRS grade 1": GRADE_COLORS[1], "CRS grade 2": GRADE_COLORS[2],
                    "CRS grade ≥3": GRADE_COLORS[3]}
#: IMWG response categories, darkest for the deepest response.
RESPONSE_COLORS = {"sCR": "#08306B", "CR": "#2171B5", "VGPR": "#6BAED6", "PR": "#BDD7EE", "MR": "#FDD0A2",
                   "SD": "#BDBDBD", "PD": "#D55E00", "NE": "#EEEEEE"}
NOT_ASSESSED = "#D5DBE2"
AFTER_PROGRESSION = "#ECEEF1"

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
    shades = sample_colorscale("Blues", [0.55 + 0.45 * i / (len(ordered) - 1) for i in range(len(ordered))])
    return dict(zip(ordered, shades, strict=False))


_TEMPLATE_JSON: dict | None = None


def template_json() -> dict:
    """The theme as a plain dict, for figures built as dicts (fast callbacks skip plotly's validation)."""
    global _TEMPLATE_JSON
    if _TEMPLATE_JSON is None:
        _TEMPLATE_JSON = pio.templates[TEMPLATE_NAME].to_plotly_json()
    return _TEMPLATE_JSON


def hex_to_rgba(color: str, alpha: float) -> str:
    """'#0072B2' or 'rgb(0, 114, 178)' -> 'rgba(0,114,178,alpha)'."""
    if color.startswith("rgb"):
        r, g, b = (round(float(v)) for v in color[color.index("(") + 1:color.index(")")].split(",")[:3])
    else:
        color = color.lstrip("#")
        r, g, b = (int(color[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def group_colors(grouping: str, groups: list[str]) -> dict[str, str]:
    """The colour of each group of a grouping (analysis.kinetics.GROUPINGS), in the app's fixed colours."""
    if grouping == "dose_level":
        return dose_colors(groups)
    if grouping == "response_group":
        return {g: RESPONSE_GROUP_COLORS[g] for g in groups}
    if grouping == "crs_group":
        return {g: CRS_GROUP_COLORS[g] for g in groups}
    return {g: OKABE_ITO[i % len(OKABE_ITO)] for i, g in enumerate(groups)}
