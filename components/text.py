"""Text from the data (subject ids, AE terms, dose levels, analyte labels, study names) as figures, links and titles
show it: plotly reads <b>, <br>, <a> ... in any figure text as markup, a markdown cell reads [ ] * _ as markup, a
path segment must be percent-encoded, and a 10,000-character id must not make a page 150,000 px wide."""
from __future__ import annotations

import html
from urllib.parse import quote, urlencode

#: Longest text from the data shown whole in a title, tick or label; longer text ends in an ellipsis.
DISPLAY_LIMIT = 60


def plain(text) -> str:
    """Text for plotly (titles, ticks, hover, annotations): < > & escaped, so it is shown as typed, not as markup;
    and a `%{` broken by a zero-width space, so that inside a hovertemplate it is not read as a placeholder."""
    return html.escape(str(text), quote=False).replace("%{", "%\u200b{")


def unplain(text: str) -> str:
    """The text `plain` was given (for an id read back from a clicked point)."""
    return html.unescape(text.replace("%\u200b{", "%{"))


def shorten(text, limit: int = DISPLAY_LIMIT) -> str:
    """Text cut to `limit` characters with an ellipsis (for titles, ticks and labels; tables keep it whole)."""
    text = str(text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def plain_short(text, limit: int = DISPLAY_LIMIT) -> str:
    """Both: what a figure shows of a name from the data."""
    return plain(shorten(text, limit))


def patient_href(subject_id, query: str = "") -> str:
    """The patient page's address: the id percent-encoded as one path segment (ids may hold '/', '?', '#', '%',
    spaces or any letter), then the query."""
    return f"/patients/{quote(str(subject_id), safe='')}{query}"


def study_href(name, version) -> str:
    """The overview of one stored study version (the name may hold '&', '#', '?', spaces or any letter)."""
    return "/?" + urlencode({"study": str(name), "version": str(version)})


def markdown_link(text, href: str) -> str:
    """A markdown link whose text is shown as typed (markdown's special characters escaped)."""
    escaped = "".join("\\" + c if c in "\\`*_{}[]()<>#+-.!|" else c for c in str(text))
    return f"[{escaped}]({href})"
