"""The HTML page's sections for one student (``model.StudentEntry``), each a
``<section data-section=NAME>``: a chart from ``charts.py`` (when matplotlib is there) and the same
data as a table (always). Gates are read from their typed results; the measurements beside them
are the rows their producers wrote."""

from __future__ import annotations

import difflib
import html

from . import charts
from .html_style import figure, number, percent, probabilities, table
from .model import Report, StudentEntry

# what the "about N would decide" figure counts, per gate (the gate rows store the number only)
UNITS = {"latency": "rounds", "robustness": "attacked examples"}


def _section(name: str, title: str, *parts: str) -> str:
    return "\n".join(
        [f'<section data-section="{name}"><h3>{html.escape(title)}</h3>', *[p for p in parts if p], "</section>"]
    )


def _missing(text: str) -> str:
    return f'<p class="muted">{html.escape(text)}</p>'


def _span(low, high) -> str:
    return "–" if low is None or high is None else f"{low:.3f} – {high:.3f}"


def _interval(row: dict) -> str:
    return _span(row.get("ci_low"), row.get("ci_high"))


def gates_section(student: StudentEntry, key: str) -> str:
    header = ["gate", "value", "interval", "limit", "outcome", "result", "decision rule", "would decide"]
    rows, classes = [], {}
    for r, entry in enumerate(student.gates):
        gate = entry.result
        limit = "–" if gate.limit is None else f"{gate.limit:.3f} [{html.escape(gate.source or '')}]"
        needed = f"about {gate.needed} {UNITS.get(gate.gate, 'examples')}" if gate.needed else "–"
        three_way = gate.three_way or "–"
        result = entry.outcome + (" (warn-only)" if gate.warn_only else "")
        message = f'<div class="message">{html.escape(gate.message or "")}</div>'
        rows.append(
            [
                f"<b>{html.escape(gate.gate)}</b>{message}",
                number(gate.value),
                _span(gate.ci_low, gate.ci_high),
                limit,
                f'<span class="outcome-{three_way}">{three_way}</span>',
                html.escape(result),
                html.escape(gate.rule or "estimate"),
                needed,
            ]
        )
        classes[(r, 5)] = (
            "pass" if entry.outcome in ("passed", "skipped") else ("warn" if entry.outcome == "warned" else "fail")
        )
    legend = (
        '<p class="muted">Dot: the value; bar: its interval (95%; the latency gate\'s is 99% per look, 95% over '
        "all looks); dashed line: the limit; shaded: the failing side. Colour: the outcome (green PASS, amber "
        "INCONCLUSIVE, red FAIL). Each gate has its own scale.</p>"
    )
    return _section(
        "gates",
        "Gates",
        legend,
        figure(charts.forest([entry.result for entry in student.gates], f"{key}-forest")),
        table(
            header,
            rows,
            "each gate: its value, interval and limit; the outcome is the interval against "
            "the limit, the result is what the decision rule made of it",
            raw=True,
            numeric={1, 2},
            classes=classes,
        ),
    )


def agreement_section(student: StudentEntry, key: str) -> str:
    evidence, flips = student.evidence or {}, student.flips or {}
    matrix, names = evidence.get("agreement_matrix"), evidence.get("label_names") or flips.get("label_names")
    if not matrix:
        return _section("agreement", "Agreement", _missing("no predictions were compared in this run"))
    negative = flips.get("negative_flip_matrix")
    rows, classes = [], {}
    for i, name in enumerate(names):
        row = [f"teacher {html.escape(name)}"]
        for j in range(len(names)):
            count = negative[i][j] if negative and i != j else 0
            row.append(f"{matrix[i][j]}" + (f" ({count} negative flips)" if count else ""))
            if count:
                classes[(i, j + 1)] = "flip"
        rows.append(row)
    summary = ""
    if flips:
        summary = (
            f"<p>Negative flips (teacher right, student wrong): <b>{flips.get('negative_flips')}</b> "
            f"({percent(flips.get('negative_flip_rate'))} of {flips.get('n')}); positive flips: "
            f"{flips.get('positive_flips')} ({percent(flips.get('positive_flip_rate'))}); "
            f"{percent(flips.get('negative_flip_share_of_errors'))} of the student's errors are new.</p>"
        )
    return _section(
        "agreement",
        "Agreement: teacher × student labels",
        summary,
        figure(charts.agreement_heatmap(matrix, names, negative, f"{key}-agreement")),
        table(
            ["", *[f"student {n}" for n in names]],
            rows,
            "rows: teacher's label, columns: student's; framed cells hold negative flips",
            raw=True,
            numeric=set(range(1, len(names) + 1)),
            classes=classes,
        ),
    )


def _examples(rows: list[dict], caption: str) -> str:
    if not rows:
        return _missing(f"{caption}: none")
    body = []
    for row in rows:
        text = html.escape(row["text"]) + (
            f"<br><i>{html.escape(row['text_pair'])}</i>" if row.get("text_pair") else ""
        )
        body.append(
            [
                str(row["index"]),
                text,
                html.escape(row["label"]),
                probabilities(row["teacher"]),
                probabilities(row["student"]),
                number(row.get("probability_loyalty")),
            ]
        )
    return table(["#", "text", "gold", "teacher", "student", "prob. loyalty"], body, caption, raw=True, numeric={0, 5})


def examples_section(student: StudentEntry) -> str:
    evidence = student.evidence
    if not evidence:
        return _section("examples", "Worst examples", _missing("no predictions were compared in this run"))
    return _section(
        "examples",
        "Worst examples",
        _examples(
            evidence.get("worst_negative_flips") or [],
            "worst negative flips: the teacher is right, the student wrong, most confident first",
        ),
        _examples(
            evidence.get("worst_disagreements") or [],
            "where the student departs most: label disagreements first, then lowest probability loyalty",
        ),
    )


def calibration_section(student: StudentEntry, key: str) -> str:
    calibration = (student.evidence or {}).get("calibration")
    metrics = student.metrics or {}
    if not calibration:
        return _section("calibration", "Calibration", _missing("no predictions were compared in this run"))
    eces = {role: (metrics.get(f"{role}_ece") or {}).get("value") for role in ("teacher", "student")}
    lines = ", ".join(
        f"{role} ECE <b>{number(eces[role])}</b> ({_interval(metrics.get(f'{role}_ece') or {})})"
        for role in ("teacher", "student")
    )
    bins = [
        [role, f"{r['low']:.2f}–{r['high']:.2f}", str(r["count"]), number(r["confidence"]), number(r["accuracy"])]
        for role in ("teacher", "student")
        for r in calibration.get(role) or []
    ]
    return _section(
        "calibration",
        "Calibration",
        f"<p>Expected calibration error over {calibration.get('bins')} equal-width bins: {lines}.</p>",
        figure(charts.reliability(calibration, eces, f"{key}-reliability")),
        "<details><summary>Reliability bins as a table</summary>"
        + table(["model", "confidence bin", "examples", "mean confidence", "accuracy"], bins, numeric={2, 3, 4})
        + "</details>",
    )


def _limit(report: Report, name: str):
    return ((report.thresholds or {}).get(name) or {}).get("value")


def latency_section(student: StudentEntry, report: Report, key: str) -> str:
    row = student.latency
    if not row:
        return _section("latency", "Latency", _missing("the latency gate did not time the models in this run"))
    limit = _limit(report, "min_speedup")
    text = (
        f"<p>Speedup <b>{row['speedup']:.2f}×</b> (95% CI {row['ci_low']:.2f}–{row['ci_high']:.2f}) against a "
        f"limit of {number(limit, 2)}×: median teacher {row['teacher_seconds'] * 1e3:.1f} ms, student "
        f"{row['student_seconds'] * 1e3:.1f} ms per batch of {row.get('batch_size')}, {row.get('rounds')} "
        f"interleaved rounds; {html.escape(row.get('stop_reason') or '')}.</p>"
    )
    rounds = [
        [str(i + 1), f"{t * 1e3:.2f}", f"{s * 1e3:.2f}", f"{t / s:.3f}" if s else "–"]
        for i, (t, s) in enumerate(zip(row.get("teacher_rounds") or [], row.get("student_rounds") or []))
    ]
    return _section(
        "latency",
        "Latency",
        text,
        figure(charts.latency(row, limit, f"{key}-latency")),
        "<details><summary>Timed rounds as a table</summary>"
        + table(["round", "teacher ms", "student ms", "ratio"], rounds, numeric={0, 1, 2, 3})
        + "</details>",
    )


def changed_words(original: str, perturbed: str) -> tuple[str, str]:
    """Both texts as HTML, the words the attack changed marked (``del`` in the original, ``ins`` in
    the perturbed text).

    >>> changed_words("a good film", "a goood film")
    ('a <del class="changed">good</del> film', 'a <ins class="changed">goood</ins> film')
    """
    before, after = original.split(), perturbed.split()
    left, right = [], []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
        old, new = html.escape(" ".join(before[i1:i2])), html.escape(" ".join(after[j1:j2]))
        if tag == "equal":
            left.append(old)
            right.append(new)
            continue
        if old:
            left.append(f'<del class="changed">{old}</del>')
        if new:
            right.append(f'<ins class="changed">{new}</ins>')
    return " ".join(left), " ".join(right)


def _adversarial(examples: list[dict], names: list[str]) -> str:
    if not examples:
        return _missing("no attack on the student succeeded")
    parts = []
    for example in examples:
        original, perturbed = changed_words(example["original"], example["perturbed"] or "")
        before = probabilities(dict(zip(names, example.get("original_probs") or []))).replace("<br>", " · ")
        after = probabilities(dict(zip(names, example.get("perturbed_probs") or []))).replace("<br>", " · ")
        teacher = {True: "the teacher was fooled too", False: "the teacher withstood its own attack"}.get(
            example.get("teacher_fooled"), ""
        )
        gold = f", gold {html.escape(example['label'])}" if example.get("label") else ""
        parts.append(
            f'<div class="pair"><span class="label">#{example["index"]} original</span><span>{original}</span>'
            f'<span class="label">perturbed</span><span>{perturbed}</span>'
            f'<span class="label">student</span><span>{before} → {after} after {example.get("queries")} '
            f"queries{gold}; {teacher}</span></div>"
        )
    return "\n".join(parts)


def robustness_section(student: StudentEntry, report: Report, key: str) -> str:
    row = student.robustness
    if not row:
        return _section("robustness", "Robustness", _missing("no attack ran in this run (add --attack RECIPE)"))
    limit = _limit(report, "max_robustness_drop")
    t, s = row["teacher"], row["student"]
    figures = [
        ["accuracy on the attacked examples", percent(t["original_accuracy"]), percent(s["original_accuracy"])],
        ["accuracy under attack", percent(t["accuracy_under_attack"]), percent(s["accuracy_under_attack"])],
        ["attack success rate", percent(t["attack_success_rate"]), percent(s["attack_success_rate"])],
        ["words perturbed (mean)", percent(t["mean_perturbed_fraction"]), percent(s["mean_perturbed_fraction"])],
        ["queries (mean)", number(t["mean_queries"], 0), number(s["mean_queries"], 0)],
        ["seconds", number(t["seconds"], 1), number(s["seconds"], 1)],
    ]
    drop = row.get("robustness_drop") or {}
    text = (
        f"<p>{html.escape(row['recipe'])} attack on {row['examples']} seeded examples at most, budget "
        f"{row['budget']} queries, seed {row['seed']}; {html.escape(row.get('stop_reason') or '')}. Robustness "
        f"drop <b>{number(drop.get('value'))}</b> (95% CI {_interval(drop)}) against a limit of {number(limit)}; "
        f"transfer rate {percent(row.get('transfer_rate'))}, label loyalty on adversarial inputs "
        f"{percent(row.get('adversarial_label_loyalty'))}.</p>"
    )
    sequence = row.get("sequence")
    looks = ""
    if sequence:
        looks = table(
            ["examples attacked", "running 95% CI of the drop"],
            [
                [str(n), f"{low:.3f} – {high:.3f}"]
                for n, low, high in zip(sequence["looks"], sequence["lows"], sequence["highs"])
            ],
            "the confidence sequence, block by block: valid whenever the gate stopped",
            numeric={0},
        )
    names = row.get("label_names") or (student.evidence or {}).get("label_names") or []
    return _section(
        "robustness",
        "Robustness",
        text,
        figure(charts.robustness(row, limit, f"{key}-robustness")),
        table(["", "teacher", "student"], figures, numeric={1, 2}),
        looks,
        "<h4>Adversarial examples against the student (changed words marked)</h4>",
        _adversarial(row.get("student_adversarial") or row.get("adversarial_examples") or [], names),
    )


def lm_section(lm: dict, key: str) -> str:
    """An LM student's token loyalty, rendered from the small schema in ``html.py``'s docstring."""
    summary = lm.get("summary") or {}
    per_text = lm.get("per_text") or []
    worst = lm.get("worst_tokens") or []
    parts = []
    if summary:
        parts.append(
            table(
                ["measure", "value"],
                [[name, number(value)] for name, value in summary.items()],
                "token loyalty over all texts",
                numeric={1},
            )
        )
    if per_text:
        columns = [c for c in per_text[0] if c != "text" and isinstance(per_text[0][c], (int, float))]
        parts.append(figure(charts.per_text_bars(per_text, [c for c in columns if c != "tokens"], f"{key}-lm")))
        parts.append(
            table(
                ["text", *columns],
                [[str(row.get("text", ""))[:200], *[number(row.get(c)) for c in columns]] for row in per_text],
                "per text",
                numeric=set(range(1, len(columns) + 1)),
            )
        )
    if worst:
        columns = list(worst[0])
        parts.append(
            table(
                columns,
                [
                    [number(row.get(c)) if isinstance(row.get(c), float) else str(row.get(c, "")) for c in columns]
                    for row in worst
                ],
                "worst tokens",
            )
        )
    return _section("lm", "Token loyalty (language model)", *parts)
