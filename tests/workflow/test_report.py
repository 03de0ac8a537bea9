"""The tiny run's Snakemake report: built with no warning, opened in headless Chromium.

`snakemake --report` must build without a warning (no "Missing metadata", no docutils
problem in a caption), embed every figure and table byte for byte, and render in a browser
with no console error. Snakemake 9's report is one self-contained HTML file: a React app
whose figures and tables are data URIs in its `results` object. The browser part opens a
copy of the report with tests/workflow/report_check.js injected, which shows every figure
through the app (as its eye button does) and waits for the browser to load it, reads every
table through its data URI, and records console errors; Chromium's --dump-dom then returns
the page with that record in it. Chromium comes from `make browser` (Debian's chromium,
which `make test` installs); without it the browser tests are skipped, saying so.
"""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from workflow_run import CONFIG, snakemake

pytestmark = pytest.mark.workflow

CHECK_JS = Path(__file__).with_name("report_check.js")
RUN = "results/tiny"  # the tiny run's folder, relative to the working folder
#: The tables of the report (the figures are every PNG of the run).
TABLES = {
    "stations/station_checks.csv",
    "models/member_heldout_scores.csv",
    "models/model_sources.csv",
    "models/tuning_cv.csv",
    "members/out_of_range.csv",
    "bma/kriging.csv",
    "bma/participation.csv",
    "bma/station_folds.csv",
    "bma/subcell_fit.csv",
    "validation/heterogeneity.csv",
    "validation/station_scores.csv",
    "validation/table4_stations.csv",
    "validation/table4_by_month_and_season.csv",
    "validation/truth_scores.csv",
}
#: The one console message the report prints on every load, and why it is harmless:
#: Snakemake's report template embeds the Tailwind CSS "Play CDN" script (inline: nothing
#: is fetched), which warns that it is meant for development. Not ours to change; the
#: README says so.
KNOWN_WARNINGS = ("cdn.tailwindcss.com should not be used in production",)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    return None


def dump_dom(page: Path, tmp: Path) -> tuple[str, list[str]]:
    """The DOM of ``page`` after its scripts ran in headless Chromium, and the console
    messages Chromium logged."""
    exe = _chromium()
    if exe is None:
        pytest.skip(
            "no chromium binary on PATH: `make browser` (run by `make test`) installs "
            "Debian's chromium; without it the report is not opened in a browser"
        )
    res = subprocess.run(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--no-default-browser-check", f"--user-data-dir={tmp / 'profile'}",
         "--enable-logging=stderr", "--v=1", "--virtual-time-budget=120000",
         "--dump-dom", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    console = re.findall(r':CONSOLE[:(]\d+\)?\] "(.*)", source: ', res.stderr)
    return res.stdout, console


@pytest.fixture(scope="module")
def report(run_dir) -> tuple[Path, str]:
    """results/tiny/report.html built with the plain `snakemake --report`, and its output."""
    path = run_dir / "report.html"
    res = snakemake(run_dir.parents[1], CONFIG, "--report", str(path))
    assert res.returncode == 0, res.stderr[-3000:]
    return path, res.stdout + res.stderr


@pytest.fixture(scope="module")
def results(report) -> dict[str, dict]:
    """The report's embedded results: path -> name, mime type, caption, data URI, ..."""
    text = report[0].read_text()
    m = re.search(r"var results = (\{.*?\});\s*</script>", text, re.S)
    assert m, "no results object in the report"
    return json.loads(m.group(1))


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])


def test_the_report_builds_without_a_warning(report):
    _, output = report
    assert "Report created." in output
    noise = [
        line
        for line in output.splitlines()
        if re.search(r"warn|missing metadata|error", line, re.I)
    ]
    assert noise == []


def test_every_figure_and_table_is_embedded_with_its_caption(run_dir, report, results):
    # the report names results relative to the working folder: results/tiny/...
    rel = {str(Path(p).relative_to(RUN)): entry for p, entry in results.items()}
    figures = {str(p.relative_to(run_dir)) for p in run_dir.rglob("*.png")}
    assert len(figures) >= 12 and set(rel) == figures | TABLES
    for name, entry in rel.items():
        mime = "image/png" if name.endswith(".png") else "text/csv"
        assert entry["mime_type"] == mime, name
        header, data = entry["data_uri"].split(",", 1)
        assert header.startswith(f"data:{mime};") and header.endswith(";base64"), name
        assert base64.b64decode(data) == (run_dir / name).read_bytes(), name
        # every caption rendered, and without a docutils problem (they show in the HTML)
        caption = entry["caption"]
        assert len(caption) > 100, name
        assert "system-message" not in caption and "System Message" not in caption, name


def test_the_report_renders_in_chromium_with_no_console_error(report, tmp_path):
    dom, console = dump_dom(report[0], tmp_path)
    assert '<div id="app">' in dom
    app = dom[dom.index('<div id="app">') :]
    words = [w.strip() for w in re.sub(r"<[^>]+>", "\n", app).splitlines() if w.strip()]
    # the app's menu: its sections, then the result categories of the workflow's rules
    assert words[:3] == ["Snakemake", "Report", "General"], words[:10]
    results_menu = words[words.index("Results") + 1 :]
    categories = ("BMA", "Figures", "Members", "Regions", "Stations", "Uncertainty", "Validation")
    for category in categories:
        assert category in results_menu[: len(categories)], (category, results_menu[:10])
    unexplained = [m for m in console if not m.startswith(KNOWN_WARNINGS)]
    assert unexplained == []


def test_every_figure_and_table_loads_in_chromium(run_dir, report, results, tmp_path):
    js = CHECK_JS.read_text()
    hook = js[js.index("// ---- HOOK") : js.index("// ---- CHECK")]
    check = js[js.index("// ---- CHECK") :]
    text = report[0].read_text()
    head = text.index("<head>") + len("<head>")
    body = text.rindex("</body>")
    page = tmp_path / "report_check.html"
    page.write_text(
        f"{text[:head]}<script>{hook}</script>{text[head:body]}<script>{check}</script>"
        f"{text[body:]}"
    )
    dom, _ = dump_dom(page, tmp_path)
    m = re.search(r'<pre id="report-check">(.*?)</pre>', dom, re.S)
    assert m, "the check did not finish before the page was dumped"
    found = json.loads(html.unescape(m.group(1)))
    assert found["rendered"] and found["done"], found["errors"]
    assert found["errors"] == []
    assert [w for w in found["warnings"] if not w.startswith(KNOWN_WARNINGS)] == []
    figures = {p: r for p, r in results.items() if r["mime_type"].startswith("image/")}
    assert set(found["images"]) == set(figures) and len(figures) >= 12
    for path, img in found["images"].items():
        # shown by the app, loaded by the browser at the PNG's own size, and decoded to the
        # PNG's own pixels (channel means within half a level of 255)
        assert img["shown"] and img["complete"], path
        png = run_dir.parents[1] / path
        assert (img["width"], img["height"]) == png_size(png), path
        expected = 255 * matplotlib.image.imread(png).reshape(-1, 4).mean(axis=0)
        assert np.abs(np.array(img["mean_rgba"]) - expected).max() < 0.5, path
    assert set(found["tables"]) == set(results) - set(figures)
    for path, table in found["tables"].items():
        lines = (run_dir.parents[1] / path).read_text().splitlines()
        assert table["ok"] and table["mime"] == "text/csv", path
        assert table["header"] == lines[0], path
        assert table["lines"] == len([line for line in lines if line]), path
