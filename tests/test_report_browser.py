"""The HTML report in a real browser: headless Chromium (Debian's package) over the DevTools protocol.

What a reviewer opening the CI artifact would meet: no console error, every section present and
on screen in light and dark mode, every chart drawn at a real size, and no request leaving the
file. A control page that does reach for the network and logs an error shows that these checks
catch both. Skips, naming the install line, where Chromium or ``websockets`` is missing.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from browser import INSTALL, Browser, chromium

from loyalty_tests.report.html import render_html
from loyalty_tests.report.model import Report

DEMO_REPORT = Path(__file__).parent / "fixtures" / "demo_report.json"
SECTIONS = ["verdict", "gates", "agreement", "examples", "calibration", "latency", "robustness", "environment"]

pytestmark = [
    pytest.mark.skipif(chromium() is None, reason=f"the browser test needs Chromium: {INSTALL}"),
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    pytest.importorskip("websockets", reason="the browser test drives Chromium with websockets: pip install websockets")
    browser = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def demo_page(tmp_path_factory) -> Path:
    page = tmp_path_factory.mktemp("html") / "loyalty-report.html"
    page.write_text(render_html(Report.from_json(DEMO_REPORT.read_text())), encoding="utf-8")
    return page


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("scheme, background", [("light", "rgb(255, 255, 255)"), ("dark", "rgb(21, 25, 29)")])
def test_demo_page_in_chromium(browser, demo_page, tmp_path, scheme, background):
    seen = browser.open(demo_page, scheme)
    assert seen["errors"] == []
    assert seen["requests"] == [seen["url"]]  # the file itself and nothing else
    assert seen["background"] == background
    found = [section["name"] for section in seen["sections"]]
    assert found == SECTIONS
    hidden = [section for section in seen["sections"] if not section["visible"] or section["height"] < 20]
    assert hidden == []
    assert len(seen["charts"]) == 5
    assert all(chart["width"] > 200 and chart["height"] > 100 and chart["title"] for chart in seen["charts"])
    width, height = png_size(browser.screenshot(tmp_path / f"{scheme}.png"))
    assert width >= 1000 and height > 2000  # the whole page, not an empty viewport


def test_the_checks_catch_a_page_that_reaches_out_and_logs_an_error(browser, demo_page, tmp_path):
    page = demo_page.read_text(encoding="utf-8")
    # What a careless page would do: a CDN stylesheet, a remote image and a script that logs an error.
    leaky = page.replace("</head>", '<link rel="stylesheet" href="https://cdn.example.com/x.css"></head>').replace(
        "</main>", '<img src="https://example.com/logo.png" alt=""><script>console.error("boom")</script></main>'
    )
    (tmp_path / "leaky.html").write_text(leaky, encoding="utf-8")
    seen = browser.open(tmp_path / "leaky.html")
    assert seen["errors"]  # the policy refuses them and says so
    assert any("Content Security Policy" in error for error in seen["errors"])
    # the same page without the policy: the requests go out (to nowhere: host names resolve to nothing)
    (tmp_path / "open.html").write_text(leaky.replace("Content-Security-Policy", "x-no-policy"), encoding="utf-8")
    seen = browser.open(tmp_path / "open.html")
    assert "https://example.com/logo.png" in seen["requests"]
    assert any("boom" in error for error in seen["errors"])
