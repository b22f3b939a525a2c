"""Draw a figure with plotly.js in headless Chromium and measure where its parts land, to check a layout the way a
person looking at it would: nothing outside the picture, nothing on top of anything else.

`FigureLab` opens one browser page with plotly.js (the copy the app and kaleido use) and draws figures at a given
size; `problems(geometry)` lists every overlap and every part that sticks out."""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import plotly

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

MEASURE_JS = r"""
const [figure, width, height] = arguments;
const done = arguments[arguments.length - 1];
const div = document.getElementById('plot');
div.style.width = width + 'px'; div.style.height = height + 'px';
const layout = Object.assign({}, figure.layout, {width: width, height: height});
Plotly.purge(div);
Plotly.newPlot(div, figure.data, layout, {staticPlot: true}).then(() => {
  const origin = div.getBoundingClientRect();
  const box = (el) => { if (!el) return null; const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) return null;
    return [r.left - origin.left, r.top - origin.top, r.right - origin.left, r.bottom - origin.top]; };
  const all = (sel) => [...div.querySelectorAll(sel)].map(box).filter(b => b);
  const out = {width: width, height: height, title: box(div.querySelector('.g-gtitle .gtitle')),
    legend: box(div.querySelector('.legend .bg')), legendItems: all('.legend .traces'),
    xtitles: all('[class^="g-x"][class$="title"] text'),
    ytitles: all('[class^="g-y"][class$="title"] text'),
    xticks: all('.xaxislayer-above .xtick text'), yticks: all('.yaxislayer-above .ytick text'),
    annotations: [...div.querySelectorAll('.annotation')].map(a => ({
      index: Number(a.getAttribute('data-index')), box: box(a.querySelector('.annotation-text-g') || a)}))};
  out.plots = Object.values(div._fullLayout._plots).map(p => [p.xaxis._offset, p.yaxis._offset,
      p.xaxis._offset + p.xaxis._length, p.yaxis._offset + p.yaxis._length]);
  done(out);
}).catch(e => done({error: String(e)}));
"""


class FigureLab:
    """One headless Chromium page with plotly.js, reused for every figure."""

    def __init__(self):
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service

        options = Options()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--window-size=1800,1400"):
            options.add_argument(flag)
        self.driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
        self.driver.set_script_timeout(60)
        self.page = Path(tempfile.mkdtemp(prefix="figure-lab-")) / "lab.html"
        self.page.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>body{{margin:0;"
                             "font-family:Inter,'Helvetica Neue',Arial,sans-serif}</style>"
                             f"<script src='file://{PLOTLY_JS}'></script></head><body><div id='plot'></div>"
                             "</body></html>")
        self.driver.get(self.page.as_uri())

    def measure(self, figure: dict, width: int, height: int | None = None) -> Geometry:
        """Where the parts of `figure` land when drawn `width` px wide (height: the figure's own, or `height`)."""
        plain = json.loads(plotly.io.to_json(figure))
        height = height or plain["layout"].get("height") or 450
        raw = self.driver.execute_async_script(MEASURE_JS, plain, width, height)
        assert "error" not in raw, raw
        return Geometry(raw, plain)

    def close(self) -> None:
        self.driver.quit()


@dataclass
class Geometry:
    raw: dict
    figure: dict

    def annotation(self, name: str) -> list | None:
        """The box of the annotation tagged `name` (e.g. the frame's footnote)."""
        for item in self.raw["annotations"]:
            spec = self.figure["layout"]["annotations"][item["index"]]
            if spec.get("name") == name:
                return item["box"]
        return None

    def annotation_boxes(self, exclude: str | None = None) -> list[tuple[str, list]]:
        out = []
        for item in self.raw["annotations"]:
            spec = self.figure["layout"]["annotations"][item["index"]]
            if spec.get("name") != exclude and item["box"]:
                out.append((str(spec.get("text"))[:40], item["box"]))
        return out


def overlap(a, b, tolerance: float = 1.0) -> bool:
    """Two boxes [left, top, right, bottom] overlap by more than `tolerance` px each way."""
    return (min(a[2], b[2]) - max(a[0], b[0]) > tolerance) and (min(a[3], b[3]) - max(a[1], b[1]) > tolerance)


def inside(box, width: float, height: float, tolerance: float = 1.0) -> bool:
    return box[0] >= -tolerance and box[1] >= -tolerance and box[2] <= width + tolerance and \
        box[3] <= height + tolerance


def problems(g: Geometry, footnote_name: str = "cs-footnote") -> list[str]:
    """Everything a person would call a layout fault: parts outside the picture, overlaps between the title, the
    legend, the plots, the axis titles, tick labels, the footnote and the builder's annotations."""
    raw, width, height = g.raw, g.raw["width"], g.raw["height"]
    found = []
    footnote = g.annotation(footnote_name)
    named = [("title", raw["title"]), ("legend", raw["legend"]), ("footnote", footnote)]
    named += [(f"x title {i}", b) for i, b in enumerate(raw["xtitles"])]
    named += [(f"y title {i}", b) for i, b in enumerate(raw["ytitles"])]
    for name, box in named:
        if box and not inside(box, width, height):
            found.append(f"{name} outside the picture: {[round(v) for v in box]} in {width}x{height}")
    for i, box in enumerate(raw["xticks"] + raw["yticks"]):
        if not inside(box, width, height):
            found.append(f"tick label {i} outside the picture: {[round(v) for v in box]}")
    chrome = [(n, b) for n, b in named if b]
    for i, (name_a, a) in enumerate(chrome):
        for name_b, b in chrome[i + 1:]:
            if overlap(a, b):
                found.append(f"{name_a} overlaps {name_b}")
    for name, box in [("title", raw["title"]), ("legend", raw["legend"]), ("footnote", footnote)]:
        if not box:
            continue
        for p, plot in enumerate(raw["plots"]):
            if overlap(box, plot):
                found.append(f"{name} overlaps plot {p}")
        for tick in raw["xticks"] + raw["yticks"]:
            if overlap(box, tick):
                found.append(f"{name} overlaps a tick label")
                break
    for name, box in [("legend", raw["legend"]), ("footnote", footnote), ("title", raw["title"])]:
        if box:
            for text, other in g.annotation_boxes(exclude=footnote_name):
                if overlap(box, other):
                    found.append(f"{name} overlaps annotation '{text}'")
    titles = raw["ytitles"] + raw["xtitles"]
    for i, a in enumerate(titles):
        for b in titles[i + 1:]:
            if overlap(a, b):
                found.append("two axis titles overlap")
        for tick in raw["xticks"] + raw["yticks"]:
            if overlap(a, tick, tolerance=2):
                found.append("an axis title overlaps a tick label")
                break
    return found
