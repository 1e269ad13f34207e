"""The HTML report (report/html.py) and the report data it draws (report/evidence.py), and the
Markdown summary's size guard (report/summary.py).

``fixtures/demo_report.json`` is the JSON report of a real run: ``pytest loyalty_tests/suite
--teacher demo --student int8 --attack textfooler --attack-examples 50 --loyalty-json ...``.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import numpy as np
import pytest

from loyalty_tests import metrics
from loyalty_tests.comparison import compare_predictions
from loyalty_tests.data import TextDataset
from loyalty_tests.predictions import Predictions
from loyalty_tests.report import charts, evidence
from loyalty_tests.report import document as render
from loyalty_tests.report.html import render_html
from loyalty_tests.report.summary import GITHUB_SUMMARY_LIMIT, evidence_details

DEMO_REPORT = Path(__file__).parent / "fixtures" / "demo_report.json"
STUDENT_SECTIONS = {"gates", "agreement", "examples", "calibration", "latency", "robustness"}


@pytest.fixture
def demo_report() -> dict:
    return json.loads(DEMO_REPORT.read_text())


def page_of(report: dict) -> str:
    """The page of a report edited as JSON data, read back as the typed report the page draws."""
    return render_html(render.Report.from_dict(report))


def sections(page: str) -> list[str]:
    return re.findall(r'data-section="([^"]+)"', page)


def test_demo_page_is_self_contained_with_every_section(demo_report):
    page = page_of(demo_report)
    assert len(page.encode()) < 2 * 1024 * 1024
    assert "<script" not in page.lower()  # no JavaScript at all: nothing to degrade from
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    # nothing is loaded from anywhere: no src/href but in-page anchors
    assert re.findall(r'(?:src|href)="(?!#)[^"]*"', page) == []
    assert "url(http" not in page and "@import" not in page
    assert set(sections(page)) == STUDENT_SECTIONS | {"verdict", "environment"}
    assert page.count("<svg") == 5  # forest, agreement, reliability, latency, robustness
    assert page.count('role="img"') == 5 and page.count("<title id=") == 5
    student = demo_report["students"][0]
    label_loyalty = next(g for g in student["gates"] if g["gate"] == "label_loyalty")
    assert f"{label_loyalty['value']:.3f}" in page and f"{label_loyalty['ci_low']:.3f}" in page
    assert "<details><summary>Machine, versions, fingerprints, thresholds</summary>" in page
    assert student["fingerprint"] in page and demo_report["data"]["fingerprint"] in page


def test_page_shows_the_demo_evidence(demo_report):
    page = page_of(demo_report)
    student = demo_report["students"][0]
    flip = student["evidence"]["worst_negative_flips"][0]
    assert flip["text"].replace("'", "&#x27;") in page
    matrix = student["evidence"]["agreement_matrix"]
    assert f"{matrix[0][1]} ({student['flips']['negative_flip_matrix'][0][1]} negative flips)" in page
    sequence = student["robustness"]["sequence"]
    assert f"{sequence['lows'][0]:.3f} – {sequence['highs'][0]:.3f}" in page  # the confidence sequence, look by look
    assert page.count('class="pair"') == len(student["robustness"]["student_adversarial"]) > 0
    assert '<ins class="changed">' in page and '<del class="changed">' in page
    assert "prefers-color-scheme: dark" in page


def test_without_matplotlib_the_page_keeps_its_tables_and_names_the_extra(demo_report, monkeypatch):
    monkeypatch.setattr(charts, "available", lambda: False)
    page = page_of(demo_report)
    assert "<svg" not in page
    assert "pip install &#x27;pytest-loyalty[html]&#x27;" in page
    assert set(sections(page)) >= STUDENT_SECTIONS and page.count("<table>") >= 8


def test_every_text_is_escaped(demo_report):
    report = copy.deepcopy(demo_report)
    report["students"][0]["spec"] = "<script>alert(1)</script>"
    report["students"][0]["evidence"]["worst_negative_flips"][0]["text"] = "<img src=x onerror=alert(1)>"
    page = page_of(report)
    assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_sections_without_data_say_so_and_an_lm_part_renders_only_when_present(demo_report):
    report = copy.deepcopy(demo_report)
    student = report["students"][0]
    student.update(latency=None, robustness=None, evidence=None)
    page = page_of(report)
    assert "the latency gate did not time the models in this run" in page
    assert "no attack ran in this run" in page and 'data-section="lm"' not in page
    student["lm"] = {
        "summary": {"token_agreement": 0.91, "kl_teacher_student": 0.052},
        "per_text": [
            {"text": "the cat sat", "tokens": 3, "token_agreement": 1.0, "kl": 0.01},
            {"text": "on the mat", "tokens": 3, "token_agreement": 0.5, "kl": 0.4},
        ],
        "worst_tokens": [
            {"text_index": 1, "position": 2, "teacher_token": " mat", "student_token": " hat", "kl": 1.75}
        ],
    }
    page = page_of(report)
    assert 'data-section="lm"' in page
    assert "0.052" in page and "on the mat" in page and "1.750" in page and " hat" in page
    assert 'aria-labelledby="s0-lm-title s0-lm-desc"' in page  # per-text bars, with a text alternative


def test_reliability_bins_recompute_the_ece():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet([1.0, 1.0, 1.0], size=300)
    y_true = rng.integers(0, 3, size=300)
    rows = evidence.reliability_bins(y_true, probs)
    assert sum(r["count"] for r in rows) == 300
    ece = sum(r["count"] / 300 * abs(r["accuracy"] - r["confidence"]) for r in rows)
    assert ece == pytest.approx(metrics.expected_calibration_error(y_true, probs), abs=1e-3)  # rows are rounded


def test_prediction_evidence_is_capped_and_matches_the_predictions():
    rng = np.random.default_rng(1)
    n = 60
    texts = [f"review {i} " + "word " * 200 for i in range(n)]  # long texts get clipped
    labels = list(rng.integers(0, 2, size=n))
    data = TextDataset("synthetic", texts, labels, ("negative", "positive"))
    teacher = Predictions("t", rng.dirichlet([1, 1], size=n), ("negative", "positive"), 0.0)
    student = Predictions("s", rng.dirichlet([1, 1], size=n), ("negative", "positive"), 0.0)
    found = evidence.prediction_evidence(compare_predictions(data, teacher, student, n_resamples=100))
    assert np.sum(found["agreement_matrix"]) == n
    assert np.trace(found["agreement_matrix"]) == np.sum(teacher.predicted_labels == student.predicted_labels)
    assert len(found["worst_negative_flips"]) == len(found["worst_disagreements"]) == evidence.EXAMPLES
    assert all(len(row["text"]) == evidence.TEXT_CHARS for row in found["worst_negative_flips"])
    for row in found["worst_negative_flips"]:  # teacher right, student wrong
        gold = row["label"]
        assert max(row["teacher"], key=row["teacher"].get) == gold != max(row["student"], key=row["student"].get)
    assert len(json.dumps(found)) < 8000


def test_markdown_summary_folds_the_long_parts(demo_report):
    markdown = render.render_markdown(render.Report.from_dict(demo_report), "loyalty-report.html")
    assert "`loyalty-report.html`" in markdown and "Loyalty gate: ✅ passed" in markdown
    assert "<details><summary>Worst negative flips, `int8`</summary>" in markdown
    assert markdown.index("| student | gate |") < markdown.index("<details><summary>Worst negative flips")


def test_markdown_summary_stays_under_githubs_limit_for_a_large_report(demo_report):
    report = copy.deepcopy(demo_report)
    student = report["students"][0]
    for row in student["evidence"]["worst_negative_flips"] + student["evidence"]["worst_disagreements"]:
        row["text"] = "a long review " * 2000  # unclipped, as a report from elsewhere might hold
    report["students"] = [{**copy.deepcopy(student), "spec": f"student-{i}"} for i in range(60)]
    markdown = render.render_markdown(render.Report.from_dict(report))
    assert len(markdown.encode()) <= GITHUB_SUMMARY_LIMIT
    assert "| `student-59` | label_loyalty |" in markdown  # the essentials all stay
    assert re.search(r"\(\d+ folded parts left out to stay under GitHub's 1024 KiB job-summary limit", markdown)
    # without the guard the same report would not fit
    unguarded = sum(len("\n".join(part).encode()) for part in evidence_details(render.Report.from_dict(report)))
    assert unguarded > GITHUB_SUMMARY_LIMIT


def test_plugin_writes_the_page_from_the_option_and_from_ini(pytester):
    from tiny import save_tiny_bert

    from conftest import NEGATIVE, POSITIVE, write_csv

    save_tiny_bert(pytester.path / "teacher", seed=0)
    save_tiny_bert(pytester.path / "student", seed=3)
    write_csv(pytester.path / "dev.csv", [(t, "positive") for t in POSITIVE] + [(t, "negative") for t in NEGATIVE])
    args = [
        "--teacher",
        "./teacher",
        "--student",
        "./student",
        "--loyalty-data",
        "dev.csv",
        "-p",
        "no:cacheprovider",
        "--loyalty-cache-dir",
        str(pytester.path / "cache"),
        "--loyalty-bootstrap",
        "100",
        "-k",
        "label_loyalty or probability_loyalty",
        "--loyalty-json",
        "r.json",
    ]
    result = pytester.runpytest(*args, "--loyalty-html", "page.html")
    result.stdout.fnmatch_lines(["wrote page.html"])
    page = (pytester.path / "page.html").read_text()
    report = json.loads((pytester.path / "r.json").read_text())
    student = report["students"][0]
    assert np.sum(student["evidence"]["agreement_matrix"]) == report["data"]["n"]
    assert {"gates", "agreement", "examples", "calibration"} <= set(sections(page))
    pytester.makeini("[pytest]\nloyalty_html = from-ini.html\n")
    pytester.runpytest(*args).stdout.fnmatch_lines([f"wrote {pytester.path / 'from-ini.html'}"])  # beside the ini
    assert (pytester.path / "from-ini.html").read_text().startswith("<!doctype html>")
