"""The grid of validation problems (file, row, column, reason) shown after an import and after a mapping preview."""
from __future__ import annotations

import dash_ag_grid as dag

#: A long list scrolls in a box of this height; up to this many rows it is shown whole.
SCROLL_STYLE = {"height": "320px", "width": "100%"}
WHOLE_ROWS = 12


def issues_grid(grid_id: str, report_records: list[dict]) -> dag.AgGrid:
    """Every issue of a report (`ValidationReport.to_records()`), errors highlighted; sortable and filterable."""
    rows = [{**r, "row": r["row"] if r["row"] is not None else "", "column": r["column"] or ""}
            for r in report_records]
    whole = len(rows) <= WHOLE_ROWS
    return dag.AgGrid(
        id=grid_id, rowData=rows,
        columnDefs=[{"field": "severity", "headerName": "Severity", "width": 110},
                    {"field": "file", "headerName": "File", "width": 200},
                    {"field": "row", "headerName": "Row", "width": 90},
                    {"field": "column", "headerName": "Column", "width": 150},
                    {"field": "message", "headerName": "Problem", "flex": 1, "wrapText": True, "autoHeight": True}],
        defaultColDef={"sortable": True, "filter": True, "resizable": True},
        rowClassRules={"cs-row-error": "params.data.severity == 'error'"},
        style={"width": "100%"} if whole else SCROLL_STYLE,
        dashGridOptions={"domLayout": "autoHeight" if whole else "normal"},
    )
