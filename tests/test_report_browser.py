"""report.html in a real browser (Debian's chromium, driven by Playwright, as in test_app_browser.py):
for every example, `planner run --out`, then open the report: no console error, every figure
drawn, no element wider than 1,400 px, nothing clipped, the file under 1 MB.

The examples run once per session (the CLI, as a user would); one browser serves every test.
scenarios/fleets/vehicle_telematics.yaml (2,400 vans) takes minutes to simulate, so its fleet is
checked on a copy with 30 vans a fleet, written here.

`UPDATE_SCREENSHOT=1 pytest tests/test_report_browser.py` also writes docs/report-<section>.png
(the README's), from the smart-factory report (and the fleet section from retail-stores).
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from test_app_browser import CHROMIUM, CHROMIUM_ARGS  # tests/ is on sys.path under pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_REPORT_BYTES = 1_000_000
MAX_ELEMENT_PX = 1400
EXAMPLES = sorted(p.name for p in (ROOT / "scenarios").glob("*.yaml"))
FLEET_COPY = "vehicle_telematics_30.yaml"
SECTIONS = ("summary", "placement", "agreement", "topology", "cost", "latency")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="Debian's chromium is not at /usr/bin/chromium "
                              "(`.ci/run` installs it: apt-get install chromium)"),
]


@pytest.fixture(scope="session")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each example's report folder, from `planner run FILE --out DIR`, run two at a time."""
    base = tmp_path_factory.mktemp("reports")
    fleet = base / FLEET_COPY
    fleet.write_text((ROOT / "scenarios" / "fleets" / "vehicle_telematics.yaml").read_text()
                     .replace("count: 1200", "count: 30"))
    files = {name: ROOT / "scenarios" / name for name in EXAMPLES} | {FLEET_COPY: fleet}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out: dict[str, Path] = {}
    pending = list(files.items())
    running: list[tuple[str, subprocess.Popen]] = []
    while pending or running:
        while pending and len(running) < 2:
            name, path = pending.pop(0)
            out[name] = base / name.removesuffix(".yaml")
            running.append((name, subprocess.Popen(
                [sys.executable, "-m", "planner.cli", "--quiet", "run", str(path), "--out", str(out[name])],
                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)))
        name, proc = running.pop(0)
        log = proc.communicate(timeout=600)[0].decode(errors="replace")
        # 0: feasible and confirmed; 3: the report says what failed. Either way it is written.
        assert proc.returncode in (0, 3), f"{name}: exit {proc.returncode}\n{log}"
    return out


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


#: Elements of the body wider than the limit, or whose content overflows their box (clipped).
_TOO_WIDE_JS = """limit => [...document.body.querySelectorAll('*')].concat([document.body]).flatMap(e => {
    const r = e.getBoundingClientRect();
    const out = [];
    if (r.width > limit || r.right > limit + 20) out.push(`${e.tagName}#${e.id}.${e.className} ${Math.round(r.width)}px`);
    const style = getComputedStyle(e);
    if (e.tagName !== 'svg' && !(e instanceof SVGElement) && style.overflowX !== 'visible' && e.scrollWidth > e.clientWidth + 1)
        out.push(`${e.tagName}.${e.className} clipped: ${e.scrollWidth} > ${e.clientWidth}`);
    return out; })"""


def _open(browser: Any, report: Path, errors: list[str]) -> Any:
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(report.as_uri(), wait_until="load")
    return page


@pytest.mark.parametrize("example", [*EXAMPLES, FLEET_COPY])
def test_report_renders(example: str, reports: dict[str, Path], browser: Any) -> None:
    report = reports[example] / "report.html"
    assert report.stat().st_size < MAX_REPORT_BYTES, f"{example}: {report.stat().st_size:,} bytes"
    errors: list[str] = []
    page = _open(browser, report, errors)
    try:
        for section in SECTIONS:
            assert page.locator(f"section#{section}").count() == 1, section
        figures = page.locator("figure.chart svg")
        assert figures.count() >= 3
        for i in range(figures.count()):
            fig = figures.nth(i)
            box = fig.bounding_box()
            assert box and box["width"] > 100 and box["height"] > 50, (example, i, box)
            # drawn, not an empty frame: marks and labelled axis ticks
            assert fig.locator("rect, circle, path, line").count() > 0, (example, i)
            assert fig.locator("text").count() > 1, (example, i)
        assert page.evaluate(_TOO_WIDE_JS, MAX_ELEMENT_PX) == []
        assert "Traceback" not in page.inner_text("body")
        assert not errors, errors
    finally:
        page.close()


def test_screenshots_of_each_section(reports: dict[str, Path], browser: Any, tmp_path: Path) -> None:
    """A picture of each section; with UPDATE_SCREENSHOT=1 they become the README's docs/report-*.png."""
    shots = [("smart_factory.yaml", s, s) for s in SECTIONS] + [("clinic_llm.yaml", "latency", "llm-latency"),
                                                                ("retail_stores.yaml", "topology", "fleet")]
    errors: list[str] = []
    for example, section, name in shots:
        page = _open(browser, reports[example] / "report.html", errors)
        try:
            path = tmp_path / f"report-{name}.png"
            page.locator(f"section#{section}").screenshot(path=str(path))
            assert path.stat().st_size > 5_000, name
            if os.environ.get("UPDATE_SCREENSHOT") == "1":
                (ROOT / "docs").mkdir(exist_ok=True)
                (ROOT / "docs" / path.name).write_bytes(path.read_bytes())
        finally:
            page.close()
    assert not errors, errors
