"""NCA results as CDISC datasets for a submission pipeline: SDTM PP (one record per subject x analyte x specimen x
parameter) and ADaM ADPP (its analysable values), written as SAS transport v5 files (docs/cdisc.md, "Exporting NCA
results as PP and ADPP").

Test codes, names and units come from the parameter registry (analysis/nca/parameters.py): only parameters with a
CDISC PPTESTCD are written. A parameter the NCA left blank is a PP record with PPSTAT = NOT DONE and the result's
`reason` in PPREASND; ADPP leaves it out. Partial AUCs are PPTESTCD = AUCINT with the interval in PPSTINT/PPENINT
(ISO 8601 durations from Day 0, the CAR-T infusion); ADPP gives each interval a PARAMCD of its own (AUC0_28).
"""
from __future__ import annotations

import io
import re
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.nca.options import NCAOptions
from analysis.nca.parameters import BY_NAME, KEY_COLUMNS, REASON_COLUMN, Parameter, interval_bounds, parameter
from data_access.catalogue import BUILTIN, DEFAULT
from data_access.cdisc_demo import SPECIMEN_TERMS

NOT_DONE = "NOT DONE"
#: PPREASND of a blank parameter whose profile has no reason (none is known to happen; the IG wants a reason).
NO_REASON = "not calculable from the profile's samples"
#: What PPTPTREF says the intervals (PPSTINT/PPENINT) are measured from: CARTscope's Day 0.
REFERENCE_POINT = "CAR-T INFUSION"
#: SAS transport v5 limits.
MAX_NAME, MAX_LABEL, MAX_TEXT = 8, 40, 200

PP_LABELS = {
    "STUDYID": "Study Identifier", "DOMAIN": "Domain Abbreviation", "USUBJID": "Unique Subject Identifier",
    "PPSEQ": "Sequence Number", "PPGRPID": "Group ID", "PPTESTCD": "Parameter Short Name",
    "PPTEST": "Parameter Name", "PPCAT": "Parameter Category", "PPORRES": "Result or Finding in Original Units",
    "PPORRESU": "Original Units", "PPSTRESC": "Character Result/Finding in Std Format",
    "PPSTRESN": "Numeric Result/Finding in Standard Units", "PPSTRESU": "Standard Units",
    "PPSTAT": "Completion Status", "PPREASND": "Reason Parameter Not Calculated",
    "PPSPEC": "Specimen Material Type", "PPTPTREF": "Time Point Reference",
    "PPRFTDTC": "Date/Time of Reference Point", "PPSTINT": "Planned Start of Assessment Interval",
    "PPENINT": "Planned End of Assessment Interval",
}
ADPP_LABELS = {
    "STUDYID": "Study Identifier", "USUBJID": "Unique Subject Identifier",
    "TRT01A": "Actual Treatment for Period 01", "PPCAT": "Parameter Category",
    "PPSPEC": "Specimen Material Type", "PPTESTCD": "Parameter Short Name", "PARAMCD": "Parameter Code",
    "PARAM": "Parameter", "AVAL": "Analysis Value", "AVALU": "Analysis Value Unit",
    "PPSTINT": "Planned Start of Assessment Interval", "PPENINT": "Planned End of Assessment Interval",
    "SRCDOM": "Source Data", "SRCVAR": "Source Variable", "SRCSEQ": "Source Sequence Number",
}
#: Unit kinds written otherwise than on screen: AUC as time x concentration, a rate per day (CDISC PK unit style).
CDISC_UNIT_KINDS = {"auc": "day*{conc}", "rate": "/day"}
_ASCII = {"µ": "u", "μ": "u", "·": "*", "γ": "gamma", "α": "alpha", "β": "beta", "λ": "lambda", "≥": ">=",
          "≤": "<=", "–": "-", "²": "2"}
_INTERVAL_NOTE = re.compile(r"^(auc_[0-9m.]+_[0-9m.]+): (.*)$")
_NEXT_INTERVAL_NOTE = re.compile(r"; (?=auc_[0-9m.]+_[0-9m.]+: )")


def ascii_text(text: str) -> str:
    """Text for a SAS transport v5 file (no encoding): µ -> u, · -> *, Greek letters spelt out, the rest '?'."""
    for symbol, plain in _ASCII.items():
        text = text.replace(symbol, plain)
    return text.encode("ascii", "replace").decode()


def cdisc_unit(p: Parameter, conc_unit: str) -> str:
    """The parameter's unit for PPSTRESU/AVALU: 'day*copies/ug gDNA', '/day', 'day', '%', '' (R², counts)."""
    pattern = CDISC_UNIT_KINDS.get(p.unit_kind)
    return ascii_text(pattern.format(conc=conc_unit) if pattern else p.unit(conc_unit))


def iso_duration(days: float) -> str:
    """0 -> 'P0D', 28 -> 'P28D', 7.5 -> 'P7.5D', -7 -> '-P7D'."""
    text = np.format_float_positional(abs(float(days)), trim="-")
    return f"{'-' if days < 0 else ''}P{text}D"


def interval_paramcd(start: float, end: float, position: int) -> str:
    """The ADaM PARAMCD of the partial AUC over [start, end] (sponsor-defined; CDISC has one code, AUCINT, for all
    intervals): 'AUC0_28', 'AUC0_7P5', 'AUCM7_7'; where that is longer than 8 characters, 'AUCINT<position>'
    ('AUCI<position>' from the 100th interval on)."""
    def part(x: float) -> str:
        text = np.format_float_positional(abs(x), trim="-").replace(".", "P")
        return f"M{text}" if x < 0 else text

    code = f"AUC{part(start)}_{part(end)}"
    if len(code) <= MAX_NAME:
        return code
    return f"AUCINT{position}" if position < 100 else f"AUCI{position}"


def analyte_test_code(analyte: str) -> str:
    """The analyte's CDISC test code (a built-in's first catalogue code, e.g. CARCOPY; a declared one's own code)."""
    known = BUILTIN.get(analyte)
    return known.cdisc_codes[0] if known is not None and known.cdisc_codes else analyte


def specimen_term(specimen: str) -> str:
    """'PB' -> 'BLOOD' (CDISC SPECTYPE); a specimen a study declared keeps its own name."""
    return SPECIMEN_TERMS.get(specimen, specimen)


def analyte_units(measurements: pd.DataFrame) -> dict[str, str]:
    """Each analyte's (canonical) unit as the measurements give it."""
    return measurements.groupby("analyte", sort=False)["unit"].first().to_dict()


def not_done_reason(reason: str, name: str) -> str:
    """The part of a profile's `reason` that concerns parameter `name`: the profile's own sentences, and the notes
    of this partial AUC without those of other intervals (at most 200 characters). The engine writes the profile's
    sentences first, then one note per interval starting 'auc_<start>_<end>: '."""
    kept = []
    for part in _NEXT_INTERVAL_NOTE.split(str(reason or "")):
        note = _INTERVAL_NOTE.match(part)
        if note is None:
            kept.append(part)
        elif note.group(1) == name:
            kept.append(note.group(2))
    text = ascii_text("; ".join(s for s in kept if s)) or NO_REASON
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 3] + "..."


def _number_text(value: float) -> str:
    return "" if np.isnan(value) else f"{value:.15g}"


def _coded_columns(result: pd.DataFrame) -> list[str]:
    """The result's parameter columns that have a CDISC PPTESTCD, in the result's order."""
    return [c for c in result.columns if c not in (*KEY_COLUMNS, REASON_COLUMN) and parameter(c).pptestcd]


def pp_domain(result: pd.DataFrame, study_id: str, conc_units: Mapping[str, str], *,
              options: NCAOptions | None = None, analyte_names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """SDTM PP: one record per profile (subject x analyte x specimen) and coded parameter that applies to the
    analyte's kind. `conc_units` gives each analyte's unit, `options` the analytes' kinds (those the result was
    computed with), `analyte_names` PPCAT (default: the catalogue label, else the code)."""
    options = options or NCAOptions()
    names = _coded_columns(result)
    profiles = result.sort_values(list(KEY_COLUMNS), kind="stable").reset_index(drop=True)
    long = profiles[[*KEY_COLUMNS, REASON_COLUMN]].loc[np.repeat(profiles.index.to_numpy(), len(names))]
    long = long.reset_index(drop=True)
    long["name"] = np.tile(np.asarray(names, dtype=object), len(profiles))
    values = profiles[names].apply(pd.to_numeric, errors="coerce").astype(float).to_numpy()
    long["value"] = values.reshape(-1)
    declared = {name: parameter(name) for name in names}
    kind = long["analyte"].map(dict(zip(profiles["analyte"], options.kind_of(profiles["analyte"].to_numpy()),
                                        strict=True)))
    applies = [not declared[n].kinds or k in declared[n].kinds for n, k in zip(long["name"], kind, strict=True)]
    long = long[np.asarray(applies, dtype=bool)].reset_index(drop=True)
    p = long["name"].map(declared)
    done = long["value"].notna()
    interval = long["name"].map(lambda n: interval_bounds(n) if n not in BY_NAME else None)
    label = {a: ascii_text((analyte_names or {}).get(a) or DEFAULT.label(a)) for a in profiles["analyte"].unique()}
    unit = pd.Series([cdisc_unit(q, conc_units.get(a, "")) for q, a in zip(p, long["analyte"], strict=True)],
                     dtype=object)
    result_text = long["value"].map(_number_text)
    spec = long["specimen"].map(specimen_term)
    pp = pd.DataFrame({
        "STUDYID": str(study_id), "DOMAIN": "PP", "USUBJID": long["subject_id"].astype(str),
        "PPSEQ": (long.groupby("subject_id", sort=False).cumcount() + 1).astype(float),
        "PPGRPID": long["analyte"].map(analyte_test_code) + "-" + spec,
        "PPTESTCD": p.map(lambda q: q.pptestcd), "PPTEST": p.map(lambda q: q.pptest),
        "PPCAT": long["analyte"].map(label),
        "PPORRES": result_text, "PPORRESU": unit.where(done, ""), "PPSTRESC": result_text,
        "PPSTRESN": long["value"], "PPSTRESU": unit.where(done, ""),
        "PPSTAT": np.where(done, "", NOT_DONE),
        "PPREASND": ["" if d else not_done_reason(r, n)
                     for d, r, n in zip(done, long[REASON_COLUMN], long["name"], strict=True)],
        "PPSPEC": spec, "PPTPTREF": REFERENCE_POINT, "PPRFTDTC": "",
        "PPSTINT": interval.map(lambda i: iso_duration(i[0]) if i else ""),
        "PPENINT": interval.map(lambda i: iso_duration(i[1]) if i else ""),
    })
    return pp[list(PP_LABELS)]


def adpp_dataset(result: pd.DataFrame, study_id: str, conc_units: Mapping[str, str],
                 subjects: pd.DataFrame | None = None, *, options: NCAOptions | None = None,
                 analyte_names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """ADaM ADPP: the PP records with a value (NOT DONE records are left out), PARAMCD = PPTESTCD except each
    partial AUC's own code, AVAL = PPSTRESN, SRCSEQ = PPSEQ; TRT01A is the dose level when `subjects` is given."""
    pp = pp_domain(result, study_id, conc_units, options=options, analyte_names=analyte_names)
    return _adpp_from_pp(pp, result, subjects)


def _adpp_from_pp(pp: pd.DataFrame, result: pd.DataFrame, subjects: pd.DataFrame | None) -> pd.DataFrame:
    pp = pp[pp["PPSTAT"] != NOT_DONE].reset_index(drop=True)
    by_interval = {}  # (PPSTINT, PPENINT) -> (PARAMCD, PARAM)
    for position, name in enumerate((c for c in result.columns if c.startswith("auc_") and c not in BY_NAME), 1):
        start, end = interval_bounds(name)
        by_interval[iso_duration(start), iso_duration(end)] = (interval_paramcd(start, end, position),
                                                               f"AUC from Day {start:g} to Day {end:g}")
    spans = list(zip(pp["PPSTINT"], pp["PPENINT"], strict=True))
    adpp = pd.DataFrame({"STUDYID": pp["STUDYID"], "USUBJID": pp["USUBJID"]})
    if subjects is not None:
        dose = subjects.set_index("subject_id")["dose_level"]
        adpp["TRT01A"] = pp["USUBJID"].map(dose).map(lambda v: "" if pd.isna(v) else ascii_text(str(v)))
    return adpp.assign(
        PPCAT=pp["PPCAT"], PPSPEC=pp["PPSPEC"], PPTESTCD=pp["PPTESTCD"],
        PARAMCD=[by_interval[s][0] if s[0] else code for s, code in zip(spans, pp["PPTESTCD"], strict=True)],
        PARAM=[by_interval[s][1] if s[0] else name for s, name in zip(spans, pp["PPTEST"], strict=True)],
        AVAL=pp["PPSTRESN"], AVALU=pp["PPSTRESU"], PPSTINT=pp["PPSTINT"], PPENINT=pp["PPENINT"], SRCDOM="PP",
        SRCVAR="PPSTRESN", SRCSEQ=pp["PPSEQ"])


def write_xpt(frame: pd.DataFrame, path: str | Path, table_name: str, labels: Mapping[str, str],
              file_label: str = "") -> Path:
    """`frame` as a SAS transport v5 file: every variable named in 8 characters and labelled in 40, text in at most
    200 bytes (a ValueError says which variable breaks a limit)."""
    import pyreadstat

    frame = frame.reset_index(drop=True).copy()
    for column in frame.columns:
        if len(column) > MAX_NAME or len(labels[column]) > MAX_LABEL:
            raise ValueError(f"{column}: a SAS transport v5 name has at most {MAX_NAME} characters and a label "
                             f"at most {MAX_LABEL}")
        if not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].map(lambda v: "" if v is None or v is pd.NA else str(v))
            longest = frame[column].map(lambda v: len(v.encode("utf-8"))).max() if len(frame) else 0
            if longest > MAX_TEXT:
                raise ValueError(f"{column}: a value of {longest} bytes; SAS transport v5 text holds {MAX_TEXT}")
        else:
            frame[column] = frame[column].astype(float)
    path = Path(path)
    pyreadstat.write_xport(frame, str(path), file_label=file_label or table_name, table_name=table_name,
                           column_labels=[labels[c] for c in frame.columns], file_format_version=5)
    return path


def write_pp_adpp(result: pd.DataFrame, out: str | Path, study_id: str, conc_units: Mapping[str, str],
                  subjects: pd.DataFrame | None = None, *, options: NCAOptions | None = None,
                  analyte_names: Mapping[str, str] | None = None) -> tuple[Path, Path]:
    """OUT/pp.xpt and OUT/adpp.xpt (the folder is made if needed); returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pp = pp_domain(result, study_id, conc_units, options=options, analyte_names=analyte_names)
    adpp = _adpp_from_pp(pp, result, subjects)
    return (write_xpt(pp, out / "pp.xpt", "PP", PP_LABELS, "Pharmacokinetic Parameters"),
            write_xpt(adpp, out / "adpp.xpt", "ADPP", ADPP_LABELS, "Pharmacokinetic Parameters Analysis"))


def pp_adpp_zip(result: pd.DataFrame, study_id: str, conc_units: Mapping[str, str],
                subjects: pd.DataFrame | None = None, *, options: NCAOptions | None = None,
                analyte_names: Mapping[str, str] | None = None) -> bytes:
    """pp.xpt and adpp.xpt (as write_pp_adpp writes them) in one zip file, for a download."""
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="cartscope-cdisc-") as folder, \
            zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in write_pp_adpp(result, folder, study_id, conc_units, subjects, options=options,
                                  analyte_names=analyte_names):
            archive.write(path, path.name)
    return buffer.getvalue()
