"""Every NCA parameter CARTscope computes, declared once: column name, label, unit kind, description, CDISC
PPTESTCD/PPTEST and PKNCA name (as PKNCA declares each parameter next to its function with add.interval.col).

The engine orders its output by this list; the kinetics grid, the patient summary, the exports, the benchmark
and docs/nca.md read labels and units from here (`markdown_table()` is docs/nca.md's table; a test keeps
the two equal).
"""
from __future__ import annotations

from dataclasses import dataclass

#: How a parameter's unit follows from the analyte's concentration unit.
UNIT_KINDS = {
    "conc": "{conc}",
    "time": "day",
    "duration": "day",
    "auc": "{conc}·day",
    "rate": "1/day",
    "ratio": "ratio",
    "percent": "%",
    "count": "",
    "fraction": "",
    "text": "",
}


@dataclass(frozen=True)
class Parameter:
    name: str                 # column of analysis.nca.nca()'s result
    label: str                # what tables and figures call it
    unit_kind: str            # a key of UNIT_KINDS
    description: str
    pptestcd: str | None = None   # CDISC SDTM PP test code (PP domain), where one exists
    pptest: str | None = None     # CDISC test name
    pknca: str | None = None      # PKNCA's name for the same parameter
    kinds: tuple[str, ...] = ()  # only analytes of these kinds (data_access/catalogue.py; empty: every analyte)

    def unit(self, conc_unit: str) -> str:
        return UNIT_KINDS[self.unit_kind].format(conc=conc_unit)

    def header(self, conc_unit: str) -> str:
        """'Cmax (copies/µg gDNA)', 'Tmax (day)', 'λz points'."""
        unit = self.unit(conc_unit)
        return f"{self.label} ({unit})" if unit else self.label


PARAMETERS: tuple[Parameter, ...] = (
    Parameter("n_samples", "Samples", "count", "measured samples on or after Day 0"),
    Parameter("n_blq", "BLQ samples", "count", "how many of those are below the LLOQ"),
    Parameter("cmax", "Cmax", "conc", "highest concentration (0 if every sample is BLQ): the expansion peak",
              "CMAX", "Max Conc", "cmax"),
    Parameter("tmax", "Tmax", "time", "first day of Cmax (blank if every sample is BLQ)", "TMAX",
              "Time of CMAX", "tmax"),
    Parameter("clast", "Clast", "conc", "last quantifiable concentration (0 if every sample is BLQ)", "CLST",
              "Last Nonzero Conc", "clast.obs"),
    Parameter("tlast", "Tlast", "time", "day of the last quantifiable concentration: the persistence of CAR-T "
              "cells (blank if every sample is BLQ)", "TLST", "Time of Last Nonzero Conc", "tlast"),
    Parameter("auclast", "AUClast", "auc", "AUC from the first sample (Day 0) to Tlast", "AUCLST",
              "AUC to Last Nonzero Conc", "auclast"),
    Parameter("aucall", "AUCall", "auc", "AUClast plus the linear decline from Tlast to the next (BLQ) sample",
              "AUCALL", "AUC All", "aucall"),
    Parameter("lambda_z", "λz", "rate", "terminal (contraction/persistence) rate constant", "LAMZ", "Lambda z",
              "lambda.z"),
    Parameter("half_life", "Half-life", "duration", "ln 2 / λz", "LAMZHL", "Half-Life Lambda z", "half.life"),
    Parameter("r2", "R²", "fraction", "R² of the log-linear terminal fit", "R2", "R Squared", "r.squared"),
    Parameter("r2_adj", "Adj. R²", "fraction", "adjusted R² of the terminal fit", "R2ADJ", "R Squared Adjusted",
              "adj.r.squared"),
    Parameter("lambda_z_n_points", "λz points", "count", "samples in the terminal fit", "LAMZNPT",
              "Number of Points for Lambda z", "lambda.z.n.points"),
    Parameter("lambda_z_start", "λz first day", "time", "first day of the terminal fit", "LAMZLL",
              "Lambda z Lower Limit", "lambda.z.time.first"),
    Parameter("lambda_z_end", "λz last day", "time", "last day of the terminal fit", "LAMZUL",
              "Lambda z Upper Limit", "lambda.z.time.last"),
    Parameter("lambda_z_selection", "λz selection", "text", "how the terminal fit's points were chosen: automatic "
              "(PKNCA's rule) or manual (the analyst's points)"),
    Parameter("aucinf_obs", "AUCinf,obs", "auc", "AUClast + Clast / λz (0 if every sample is BLQ)", "AUCIFO",
              "AUC Infinity Obs", "aucinf.obs"),
    Parameter("auc_pct_extrap", "AUC extrapolated", "percent", "100 × (1 − AUClast / AUCinf,obs)", "AUCPEO",
              "AUC %Extrapolation Obs", "aucpext.obs"),
    Parameter("baseline", "Baseline", "conc", "last sample on or before Day 0 (a BLQ baseline at its LLOQ)",
              kinds=("biomarker", "tumour_burden")),
    Parameter("peak", "Peak", "conc", "highest quantifiable value after Day 0", kinds=("biomarker",)),
    Parameter("peak_day", "Peak day", "time", "first day of the peak", kinds=("biomarker",)),
    Parameter("peak_fold_change", "Peak fold-change", "ratio", "peak / baseline", kinds=("biomarker",)),
    Parameter("nadir", "Nadir", "conc", "lowest value after Day 0 (BLQ as 0)", "CMIN", "Min Conc",
              kinds=("tumour_burden",)),
    Parameter("nadir_day", "Nadir day", "time", "first day of the nadir", "TMIN", "Time of CMIN Observation",
              kinds=("tumour_burden",)),
    Parameter("nadir_percent_reduction", "Reduction from baseline", "percent",
              "100 × (baseline − nadir) / baseline", kinds=("tumour_burden",)),
)

#: Partial AUCs have one entry per interval; this is the family's declaration.
INTERVAL_AUC = Parameter("auc_<start>_<end>", "AUC day <start>–<end>", "auc",
                         "partial AUC over [start, end] days (docs/nca.md section 4)", "AUCINT",
                         "AUC from T1 to T2", "aucint.last")
#: The columns that identify a profile, and the one that explains blanks.
KEY_COLUMNS = ("subject_id", "analyte", "specimen")
REASON_COLUMN = "reason"

BY_NAME: dict[str, Parameter] = {p.name: p for p in PARAMETERS}


def interval_name(start: float, end: float) -> str:
    """(0, 28) -> 'auc_0_28'; (0, 7.5) -> 'auc_0_7.5'; (-7, 28) -> 'auc_m7_28'."""
    def fmt(x: float) -> str:
        text = f"{x:g}"
        return "m" + text[1:] if text.startswith("-") else text

    return f"auc_{fmt(start)}_{fmt(end)}"


def interval_parameter(start: float, end: float) -> Parameter:
    """The partial AUC over [start, end] days as a parameter of its own (name auc_0_28, label AUC day 0–28)."""
    return Parameter(interval_name(start, end), f"AUC day {start:g}–{end:g}", INTERVAL_AUC.unit_kind,
                     f"partial AUC from day {start:g} to day {end:g}", INTERVAL_AUC.pptestcd, INTERVAL_AUC.pptest,
                     INTERVAL_AUC.pknca)


def interval_bounds(name: str) -> tuple[float, float]:
    """'auc_0_28' -> (0.0, 28.0); 'auc_m7_7.5' -> (-7.0, 7.5): the inverse of interval_name."""
    start, end = (float(x.replace("m", "-")) for x in name[4:].split("_"))
    return start, end


def parameter(name: str) -> Parameter:
    """The declaration of a result column, partial AUCs included (auc_0_28 -> AUC day 0–28)."""
    if name in BY_NAME:
        return BY_NAME[name]
    if name.startswith("auc_"):
        return interval_parameter(*interval_bounds(name))
    raise KeyError(f"'{name}' is not an NCA parameter (analysis/nca/parameters.py)")


def columns(interval_names: tuple[str, ...]) -> list[str]:
    """The engine's output columns in order: keys, counts and parameters (partial AUCs after AUCall), reason."""
    names = [p.name for p in PARAMETERS]
    at = names.index("aucall") + 1
    return [*KEY_COLUMNS, *names[:at], *interval_names, *names[at:], REASON_COLUMN]


def markdown_table() -> str:
    """The parameter table of docs/nca.md."""
    rows = ["| column | label | unit | CDISC PPTESTCD | PKNCA | meaning |", "|---|---|---|---|---|---|"]
    for p in (*PARAMETERS[:8], INTERVAL_AUC, *PARAMETERS[8:]):
        unit = UNIT_KINDS[p.unit_kind].format(conc="conc") or "–"
        only = f" ({' and '.join(k.replace('_', ' ') for k in p.kinds)} analytes only)" if p.kinds else ""
        rows.append(f"| `{p.name}` | {p.label} | {unit} | {p.pptestcd or '–'} | {p.pknca or '–'} | "
                    f"{p.description}{only} |")
    return "\n".join(rows)
