"""The report files: the ``loyalty_json``/``loyalty_markdown``/``loyalty_html`` ini keys (``settings.py`` resolves
them and ``--loyalty-json``/``--loyalty-markdown``), and how each file is written.

Nothing is written unless one of them names a path: a plain ``pytest`` in CI writes reports when
the project's ini says where. A command-line path is relative to the current folder, as pytest's
own ``--junitxml``; an ini path to the ini file's folder, as pytest's ``paths`` ini values.

A report is written atomically (a reader never sees half of it) and replaces what was there,
except GitHub Actions' job summary: when the target is the file ``$GITHUB_STEP_SUMMARY`` names,
the report is appended, as GitHub asks, since other steps of the job write to the same file.
"""

from __future__ import annotations

import os
from pathlib import Path


def add_report_ini(parser) -> None:
    parser.addini(
        "loyalty_json",
        default=None,
        help="write the gate report as JSON to this path (relative to the ini file); --loyalty-json wins",
    )
    parser.addini(
        "loyalty_markdown",
        default=None,
        help="write the gate report as Markdown to this path (relative to the ini file; appended when it "
        "is $GITHUB_STEP_SUMMARY); --loyalty-markdown wins",
    )
    parser.addini(
        "loyalty_html",
        default=None,
        help="write the gate report as one self-contained HTML page to this path (relative to the ini "
        "file); --loyalty-html wins",
    )


def is_step_summary(path: Path) -> bool:
    """True when ``path`` is the file GitHub Actions' ``$GITHUB_STEP_SUMMARY`` names."""
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    return bool(summary) and Path(summary).absolute() == Path(path).absolute()


def write_report(path: Path, text: str) -> str:
    """Write (or, for the job summary, append) ``text``; returns what was done, for the terminal."""
    if is_step_summary(path):
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text if text.endswith("\n") else text + "\n")
        return f"appended to {path} ($GITHUB_STEP_SUMMARY)"
    from ..infra.cache import atomic_write_text  # lazily: the plugin's import stays light

    atomic_write_text(Path(path), text)
    return f"wrote {path}"
