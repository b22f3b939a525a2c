"""Screenshots of every page in headless Chromium, in normal and slide mode, at the given window sizes, for a
person to look at (tests/pages check the geometry; this is for eyes).

    .venv/bin/python scripts/screenshots.py OUT_DIR [--sizes 1600x1000,1280x800] [--pages /,/kinetics] [--port 8061]

Starts the app on a throw-away database with the demo study and writes OUT_DIR/<page>_<size>_<mode>.png (full
page height)."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["/", "/patients", "/patients/DM-003", "/kinetics", "/safety", "/efficacy", "/survival", "/exposure", "/data",
         "/admin"]


def driver(width: int, height: int):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", f"--window-size={width},{height}", "--hide-scrollbars",
                 "--enable-unsafe-swiftshader"):  # WebGL (scattergl figures) in software, as without a GPU
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))


def wait_for_page(browser, timeout: float = 30) -> None:
    """Until Dash has no callback pending and every figure has drawn."""
    deadline = time.monotonic() + timeout
    time.sleep(0.5)
    while time.monotonic() < deadline:
        ready = browser.execute_script(
            "const r = document.querySelector('#_dash-app-content, #react-entry-point');"
            "const loading = document.querySelector('[data-dash-is-loading=\"true\"]');"
            "const plots = [...document.querySelectorAll('.js-plotly-plot')];"
            "return !!r && !loading && plots.every(p => p._fullLayout);")
        if ready:
            time.sleep(0.6)
            return
        time.sleep(0.2)


def full_page(browser, path: Path, width: int, height: int) -> None:
    """The whole page, top to bottom, at the window's width (Chrome DevTools: a viewport as tall as the page)."""
    import base64
    import math

    content = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": max(math.ceil(content["height"]), height), "deviceScaleFactor": 1,
        "mobile": False})
    time.sleep(0.8)
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    path.write_bytes(base64.b64decode(shot["data"]))
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def sign_in(browser, base: str, name: str, password: str, shot: Path) -> None:
    """Shoot the sign-in page, then sign in through it."""
    from selenium.webdriver.common.by import By

    browser.get(base + "/login")
    time.sleep(0.5)
    browser.save_screenshot(str(shot))
    print(shot)
    browser.find_element(By.ID, "name").send_keys(name)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--sizes", default="1600x1000,1280x800")
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--modes", default="normal,16x9")
    parser.add_argument("--port", type=int, default=8061)
    parser.add_argument("--database-url", help="show the studies of this database (default: a fresh one with the "
                        "demo); pages take ?study=NAME")
    parser.add_argument("--sign-in", metavar="NAME:PASSWORD", help="serve with sign-in (an account of "
                        "--database-url) and sign in as NAME first; the sign-in page is shot too")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="cartscope-shots-"))
    env = {**os.environ, "PORT": str(args.port),
           "CARTSCOPE_DATABASE_URL": args.database_url or f"sqlite:///{work / 'db.sqlite'}",
           "CARTSCOPE_CACHE_DIR": str(work / "cache"),
           **({"CARTSCOPE_SECRET_KEY": "screenshots-" + "x" * 40, "CARTSCOPE_SECURE_COOKIES": "0"} if args.sign_in
              else {})}
    server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(base + ("/login" if args.sign_in else "/_dash-layout"), timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        for size in args.sizes.split(","):
            width, height = (int(x) for x in size.split("x"))
            browser = driver(width, height)
            try:
                if args.sign_in:
                    sign_in(browser, base, *args.sign_in.split(":", 1), out / f"login_{size}.png")
                for page in args.pages.split(","):
                    for mode in args.modes.split(","):
                        browser.set_window_size(width, height)
                        separator = "&" if "?" in page else "?"
                        url = base + page + ("" if mode == "normal" else f"{separator}slide={mode}")
                        browser.get(url)
                        wait_for_page(browser)
                        name = (page.strip("/").replace("/", "-").replace("?", "_").replace("=", "-").replace("&", "_")
                                or "overview")
                        full_page(browser, out / f"{name}_{size}_{mode}.png", width, height)
                        print(out / f"{name}_{size}_{mode}.png")
            finally:
                browser.quit()
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
