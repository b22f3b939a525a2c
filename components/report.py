"""Self-contained HTML patient report: header facts, kinetics summary, interactive figure; opens offline."""
from __future__ import annotations

import html as escape_html

import pandas as pd
import plotly.io as pio

STYLE = """body{font-family:Inter,'Helvetica Neue',Arial,sans-serif;color:#1f2933;margin:24px auto;max-width:1280px}
h1{font-size:26px;margin:0 0 4px}.sub{color:#6b7785;margin:0 0 12px}
.sim{border-left:4px solid #D55E00;background:#fff1ea;color:#7a2e00;padding:8px 12px;margin:8px 0}
table{border-collapse:collapse;margin:12px 0;font-size:14px}
th{text-align:left;border-bottom:2px solid #1f2933;padding:5px 8px}
td{border-bottom:1px solid #dde2e8;padding:5px 8px}td.num,th.num{text-align:right}
.facts td:first-child{color:#6b7785;text-transform:uppercase;font-size:12px}"""


def patient_report_html(title: str, subtitle: str, facts: list[tuple[str, str, str | None]],
                        summaries: list[tuple[str, pd.DataFrame]], figure: dict, simulated_note: str | None) -> str:
    """One HTML file with plotly.js inlined, so the report works without a network. `summaries`: (heading, table
    of text) pairs."""
    e = escape_html.escape
    fact_rows = "".join(f"<tr><td>{e(label)}</td><td>{e(value)}</td></tr>" for label, value, _ in facts)
    tables = []
    for heading, summary in summaries:
        columns = [c for c in summary.columns if c != "_id"]
        head = "".join(f"<th class='{'num' if i else ''}'>{e(c)}</th>" for i, c in enumerate(columns))
        body = "".join("<tr>" + "".join(f"<td class='{'num' if i else ''}'>{e(str(row[c]))}</td>"
                                        for i, c in enumerate(columns)) + "</tr>" for _, row in summary.iterrows())
        tables.append(f"<h3>{e(heading)}</h3><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    chart = pio.to_html(figure, full_html=False, include_plotlyjs=True, config={"displaylogo": False})
    sim = f"<div class='sim'>{e(simulated_note)}</div>" if simulated_note else ""
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(title)}</title><style>{STYLE}</style>"
            f"</head><body><h1>{e(title)}</h1><p class='sub'>{e(subtitle)}</p>{sim}"
            f"<table class='facts'>{fact_rows}</table><h2>Kinetics</h2>{''.join(tables)}{chart}</body></html>")
