"""The paper's four findings, each decided from the benchmark rows by an interval over seeds.

Every finding is a difference between recipes, computed from the rows ``run`` writes (one per
recipe and seed) and decided by a 95% Student t interval of its mean over seeds:

1. **KD raises probability loyalty**: ``d_s = probability_loyalty(theseus:layers=3,kd=true, s)
   - probability_loyalty(theseus:layers=3, s)``.
2. **Post-training quantization keeps loyalty**: ``d_s = label_loyalty(int8, s) -
   label_loyalty(r, s)`` for every other single-method recipe ``r`` that was run (family not
   "combined"); int8 must be more loyal than each of them.
3. **Compression lowers robustness beyond what accuracy shows**: per student row ``e =
   (teacher_accuracy_under_attack - accuracy_under_attack) - (teacher_accuracy - accuracy)``,
   the robustness drop minus the accuracy drop; ``d_s`` = the mean of ``e`` over the recipes
   run at every seed.
4. **The combined strategy is best overall**: ``score = mean(accuracy, label_loyalty,
   probability_loyalty, accuracy_under_attack)`` (the first three when the rows carry no attack,
   and the finding says so); ``d_s = score(distill:layers=3+int8, s) - score(r, s)`` for every
   other recipe ``r``.

Why paired by seed: the two recipes of a difference share the seed, the teacher, the evaluation
set and the attacked sample, so ``d_s`` is the recipe's effect under one draw of everything
random, and the interval needs no assumption that two recipes spread alike. Recipes that do not
train (int8, prune) give the same row at every seed; their differences spread only as much as
the trained recipe does, and two of them differ by a constant: a zero-width interval, exact about
seeds and silent about another test set.

Why a t interval over seeds: the seed is what a user re-rolls. The teacher, the evaluation set
and the attacked sample are fixed, so the interval answers "would other seeds of these recipes
show the same on this data?", not "would another test set?". With a handful of seeds the spread
is itself uncertain, hence Student's t with ``seeds - 1`` degrees of freedom (4.30 at 3 seeds,
not the normal 1.96); with one seed there is no spread to estimate, and the finding says that it
cannot tell instead of inventing an interval.

Verdict of one interval: **holds** when it lies above 0 (``low > 0``), **does not hold** when it
lies at or below 0 (``high <= 0``), **cannot tell** when it straddles 0. A difference of exactly 0
counts against the claim: "raises", "more loyal" and "best" each say more than a tie. Findings 2
and 4 make several comparisons: they hold when every interval lies above 0 (an intersection of
tests, which needs no correction for their number), do not hold when any lies at or below 0 (with
k comparisons, a chance of up to k x 2.5% that one does so by luck), and name the deciding one:
the lowest upper end when some interval is at or below 0, else the lowest lower end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import LoyaltyError

HOLDS, DOES_NOT_HOLD, CANNOT_TELL = "holds", "does not hold", "cannot tell"
CONFIDENCE = 0.95
# The paper's recipes each finding names (the defaults of ``run.PAPER_RECIPES``).
KD, NO_KD = "theseus:layers=3,kd=true", "theseus:layers=3"
QUANTIZED = "int8"
COMBINED = "distill:layers=3+int8"
TOO_FEW_SEEDS = "needs ≥2 seeds of both recipes"


@dataclass(frozen=True)
class Interval:
    """The mean of per-seed differences and its t interval; ``low``/``high`` are None below 2 seeds."""

    estimate: float
    low: float | None
    high: float | None
    seeds: int


@dataclass(frozen=True)
class Finding:
    """One claim's verdict, the interval that decided it (None when no difference could be
    formed), what was compared (``compared``, e.g. "int8 − prune:0.3 on label loyalty") and why
    it cannot tell or what the reader must know (``note``)."""

    claim: str
    verdict: str
    interval: Interval | None = None
    compared: str = ""
    note: str = ""


def t_interval(values, confidence: float = CONFIDENCE) -> Interval:
    """Mean of ``values`` and its Student t interval ``mean ± t(n - 1) · s / sqrt(n)`` (``s`` with
    ddof=1). One value: the mean alone, no interval.

    >>> interval = t_interval([0.01, 0.02, 0.03])  # s = 0.01, t(2) = 4.303
    >>> [round(v, 4) for v in (interval.estimate, interval.low, interval.high)], interval.seeds
    ([0.02, -0.0048, 0.0448], 3)
    >>> t_interval([0.02])
    Interval(estimate=0.02, low=None, high=None, seeds=1)
    """
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or len(array) == 0:
        raise LoyaltyError(f"a t interval needs a non-empty list of values, got {values!r}")
    mean = float(array.mean())
    if len(array) < 2:
        return Interval(mean, None, None, 1)
    from scipy.special import stdtrit  # Student t quantile; scipy.stats is slow to import

    half = float(stdtrit(len(array) - 1, 0.5 + confidence / 2)) * float(array.std(ddof=1)) / math.sqrt(len(array))
    return Interval(mean, mean - half, mean + half, len(array))


def verdict(interval: Interval) -> str:
    """holds above 0, does not hold at or below 0, cannot tell across it or without an interval.

    >>> [verdict(Interval(0.1, lo, hi, 3)) for lo, hi in ((0.01, 0.2), (-0.2, 0.0), (-0.1, 0.2), (None, None))]
    ['holds', 'does not hold', 'cannot tell', 'cannot tell']
    """
    if interval.low is None or interval.high is None:
        return CANNOT_TELL
    if interval.low > 0:
        return HOLDS
    return DOES_NOT_HOLD if interval.high <= 0 else CANNOT_TELL


def robustness_drop(row: dict) -> float | None:
    """``teacher_accuracy_under_attack - accuracy_under_attack``; None for a row without an attack."""
    teacher, student = row.get("teacher_accuracy_under_attack"), row.get("accuracy_under_attack")
    return None if teacher is None or student is None else teacher - student


def hidden_robustness_drop(row: dict) -> float | None:
    """``e = robustness drop - (teacher_accuracy - accuracy)``: what accuracy does not show.

    >>> row = {"teacher_accuracy": 0.80, "accuracy": 0.78, "teacher_accuracy_under_attack": 0.10,
    ...        "accuracy_under_attack": 0.04}
    >>> round(hidden_robustness_drop(row), 3)  # robustness drops 0.06, accuracy only 0.02
    0.04
    """
    drop = robustness_drop(row)
    return None if drop is None else drop - (row["teacher_accuracy"] - row["accuracy"])


def overall_score(row: dict, with_attack: bool) -> float:
    """``mean(accuracy, label_loyalty, probability_loyalty[, accuracy_under_attack])``."""
    keys = ["accuracy", "label_loyalty", "probability_loyalty"] + (["accuracy_under_attack"] if with_attack else [])
    return float(np.mean([row[key] for key in keys]))


def per_seed(rows: list[dict], recipe: str, value) -> dict[int, float]:
    """{seed: value(row)} for one recipe's rows, skipping rows where ``value`` is None."""
    found: dict[int, float] = {}
    for row in rows:
        if row["recipe"] != recipe:
            continue
        if row["seed"] in found:
            raise LoyaltyError(f"two rows of {recipe} at seed {row['seed']}: pairing by seed needs one")
        if (number := value(row)) is not None:
            found[row["seed"]] = float(number)
    return found


def paired_interval(rows: list[dict], first: str, second: str, value) -> Interval | None:
    """t interval of ``value(first, s) - value(second, s)`` over the seeds both have; None if none."""
    a, b = per_seed(rows, first, value), per_seed(rows, second, value)
    seeds = sorted(a.keys() & b.keys())
    return t_interval([a[s] - b[s] for s in seeds]) if seeds else None


def _missing(rows: list[dict], *recipes: str) -> str:
    present = {row["recipe"] for row in rows}
    absent = [recipe for recipe in recipes if recipe not in present]
    return f"recipe {', '.join(absent)} was not run" if absent else ""


def _too_few(interval: Interval | None, too_few: str = TOO_FEW_SEEDS) -> str:
    return "no seed was run by both recipes" if interval is None else too_few


def _single(claim: str, interval: Interval | None, compared: str = "", too_few: str = TOO_FEW_SEEDS) -> Finding:
    if interval is None or interval.low is None:
        return Finding(claim, CANNOT_TELL, interval, compared, _too_few(interval, too_few))
    return Finding(claim, verdict(interval), interval, compared)


def _worst_of(claim: str, comparisons: dict[str, Interval | None], note: str = "") -> Finding:
    """All must hold; any at or below 0 decides against; otherwise the one furthest from holding."""
    decided = {name: i for name, i in comparisons.items() if i is not None and i.low is not None}
    against = {name: i for name, i in decided.items() if verdict(i) == DOES_NOT_HOLD}
    if against:
        name = min(against, key=lambda n: against[n].high)
        return Finding(claim, DOES_NOT_HOLD, against[name], f"{name}, worst of {len(comparisons)}", note)
    undecided = [name for name in comparisons if name not in decided]
    if undecided:  # no interval may stop it holding: it cannot tell
        # the one-seed comparison that looks worst, if any has a seed in common at all
        name = min(undecided, key=lambda n: math.inf if comparisons[n] is None else comparisons[n].estimate)
        interval = comparisons[name]
        # with no shared seed there is no interval to show what was compared: the reason names it
        reason = _too_few(interval) + (f" ({name})" if interval is None else "")
        return Finding(claim, CANNOT_TELL, interval, name, "; ".join(filter(None, [reason, note])))
    name = min(decided, key=lambda n: decided[n].low)
    return Finding(claim, verdict(decided[name]), decided[name], f"{name}, worst of {len(decided)}", note)


def kd_raises_probability_loyalty(rows: list[dict]) -> Finding:
    claim = "KD raises probability loyalty"
    if missing := _missing(rows, KD, NO_KD):
        return Finding(claim, CANNOT_TELL, note=missing)
    interval = paired_interval(rows, KD, NO_KD, lambda row: row.get("probability_loyalty"))
    return _single(claim, interval)


def quantization_keeps_loyalty(rows: list[dict]) -> Finding:
    claim = "post-training quantization keeps loyalty"
    if missing := _missing(rows, QUANTIZED):
        return Finding(claim, CANNOT_TELL, note=missing)
    others = list(dict.fromkeys(r["recipe"] for r in rows if r["recipe"] != QUANTIZED and r["family"] != "combined"))
    if not others:
        return Finding(claim, CANNOT_TELL, note="no other single-method recipe was run")
    label_loyalty = lambda row: row.get("label_loyalty")
    comparisons = {
        f"{QUANTIZED} − {other} on label loyalty": paired_interval(rows, QUANTIZED, other, label_loyalty)
        for other in others
    }
    return _worst_of(claim, comparisons)


def robustness_beyond_accuracy(rows: list[dict]) -> Finding:
    claim = "compression lowers robustness beyond what accuracy shows"
    recipes = dict.fromkeys(row["recipe"] for row in rows if hidden_robustness_drop(row) is not None)
    if not recipes:
        return Finding(claim, CANNOT_TELL, note="no attack in these rows")
    e = {recipe: per_seed(rows, recipe, hidden_robustness_drop) for recipe in recipes}
    seeds = sorted(set().union(*e.values()))
    # only recipes attacked at every seed, so each seed's mean is over the same mix of methods
    complete = [by_seed for by_seed in e.values() if len(by_seed) == len(seeds)]
    if not complete:
        return Finding(claim, CANNOT_TELL, note="no recipe was attacked at every seed")
    means = [float(np.mean([by_seed[seed] for by_seed in complete])) for seed in seeds]
    compared = f"robustness drop − accuracy drop, mean over {len(complete)} recipes"
    return _single(claim, t_interval(means), compared, too_few="needs ≥2 seeds")


def combined_is_best(rows: list[dict]) -> Finding:
    claim = "the combined strategy is best overall"
    if missing := _missing(rows, COMBINED):
        return Finding(claim, CANNOT_TELL, note=missing)
    others = list(dict.fromkeys(row["recipe"] for row in rows if row["recipe"] != COMBINED))
    if not others:
        return Finding(claim, CANNOT_TELL, note="no other recipe was run")
    with_attack = all(row.get("accuracy_under_attack") is not None for row in rows)
    score = lambda row: overall_score(row, with_attack)
    comparisons = {
        f"{COMBINED} − {other} on the score": paired_interval(rows, COMBINED, other, score) for other in others
    }
    note = "" if with_attack else "score without robustness: no attack in these rows"
    return _worst_of(claim, comparisons, note)


def paper_findings(rows: list[dict]) -> list[Finding]:
    """The four findings in the paper's order."""
    return [
        kd_raises_probability_loyalty(rows),
        quantization_keeps_loyalty(rows),
        robustness_beyond_accuracy(rows),
        combined_is_best(rows),
    ]


def format_interval(interval: Interval) -> str:
    """``+0.014, 95% CI +0.004–+0.024 over 3 seeds``; one seed: the estimate and that it is one.

    >>> format_interval(Interval(0.014, 0.004, 0.024, 3))
    '+0.014, 95% CI +0.004–+0.024 over 3 seeds'
    >>> format_interval(Interval(0.014, None, None, 1))
    '+0.014 from 1 seed, no interval'
    """
    if interval.low is None or interval.high is None:
        return f"{interval.estimate:+.3f} from {interval.seeds} seed, no interval"
    return (
        f"{interval.estimate:+.3f}, {CONFIDENCE:.0%} CI {interval.low:+.3f}–{interval.high:+.3f} "
        f"over {interval.seeds} seeds"
    )


def format_finding(finding: Finding) -> str:
    """One line: the claim, the verdict, and the interval that decided it (or why there is none).

    >>> format_finding(Finding("KD raises probability loyalty", "holds", Interval(0.014, 0.004, 0.024, 3)))
    'KD raises probability loyalty: holds (+0.014, 95% CI +0.004–+0.024 over 3 seeds)'
    >>> print(format_finding(Finding("KD raises probability loyalty", "cannot tell", Interval(0.014, None, None, 1),
    ...                              note="needs ≥2 seeds of both recipes")))
    KD raises probability loyalty: cannot tell: needs ≥2 seeds of both recipes (+0.014 from 1 seed, no interval)
    """
    cannot_tell = finding.verdict == CANNOT_TELL and finding.note
    head = f"{finding.claim}: {finding.verdict}" + (f": {finding.note}" if cannot_tell else "")
    details = []
    if finding.interval is not None:
        prefix = f"{finding.compared}: " if finding.compared else ""
        details.append(prefix + format_interval(finding.interval))
    if finding.note and not cannot_tell:
        details.append(finding.note)
    return head + (f" ({'; '.join(details)})" if details else "")
