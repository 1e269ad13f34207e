"""Teacher and student attacked on the same seeded examples, block by block or all at once.

``RobustnessRun`` walks one seeded order of the data (``attack.sample_order``): each
``attack_next(block_size)`` attacks teacher and student on the next block (per-example cache
reused) and returns the cumulative, paired comparison so far, so a sequential gate can stop as
soon as its verdict is decided. ``compare_robustness`` is the one-shot form: one block of
``config.examples``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..errors import LoyaltyError
from .attack import run_attack, sample_order
from .lockstep import DEFAULT_IN_FLIGHT, AttackedModel, check_in_flight
from .results import AttackConfig, AttackResult


@dataclass(frozen=True)
class RobustnessComparison:
    """Teacher and student attacked on the same examples: both results, the transfer rate and the
    student's agreement with the teacher on the teacher's adversarial texts."""

    teacher: AttackResult
    student: AttackResult
    transfer_rate: float  # teacher's adversarial texts (on examples the student got right) that fool the student too
    adversarial_label_loyalty: float  # student agrees with teacher on the teacher's adversarial texts

    @property
    def label_names(self) -> tuple[str, ...]:
        return self.teacher.label_names

    def to_row(self) -> dict:
        return {
            "teacher": self.teacher.to_row(),
            "student": self.student.to_row(),
            "transfer_rate": self.transfer_rate,
            "adversarial_label_loyalty": self.adversarial_label_loyalty,
        }


class RobustnessRun:
    """Attack ``teacher`` and ``student`` block by block on one seeded order of ``dataset``.

    progress(role, done, total, succeeded), role "teacher" or "student", after each example of a
    block. The teacher's adversarial texts are replayed on the student as each block finishes.
    """

    def __init__(
        self,
        teacher,
        student,
        dataset,
        config: AttackConfig,
        *,
        progress=None,
        cache_dir=None,
        recipe=None,
        in_flight: int = DEFAULT_IN_FLIGHT,
        attack_examples=None,
    ):
        check_in_flight(in_flight)
        self.attack_examples = attack_examples  # an engine's attack loop (Ray), or None for the local one
        self.teacher, self.student, self.dataset, self.config = teacher, student, dataset, config
        self.order = sample_order(dataset, config.seed)
        self.progress, self.cache_dir, self.recipe, self.in_flight = progress, cache_dir, recipe, in_flight
        self.blocks: list[tuple[AttackResult, AttackResult]] = []
        self.student_view = AttackedModel(student, dataset.label_names, dataset.name)  # replays, cached per text
        self.replayed: dict[int, tuple[bool, bool]] = {}  # teacher success index -> (student fooled, agrees)

    @property
    def attacked(self) -> int:
        """Examples attacked so far (on both models)."""
        return sum(len(teacher.examples) for teacher, _ in self.blocks)

    @property
    def remaining(self) -> int:
        return len(self.order) - self.attacked

    def attack_next(self, block_size: int) -> RobustnessComparison:
        """Attack the next ``block_size`` examples of the order (fewer at its end) on both models and
        return the comparison over every example attacked so far."""
        if not isinstance(block_size, int) or block_size < 1:
            raise LoyaltyError(f"block_size must be a whole number >= 1, got {block_size!r}")
        if self.remaining == 0:
            raise LoyaltyError(
                f"all {len(self.order)} examples of {self.dataset.name!r} are attacked already; there is no next block"
            )
        block = self.order[self.attacked : self.attacked + block_size]
        results = []
        for role, model in (("teacher", self.teacher), ("student", self.student)):
            report = (
                None
                if self.progress is None
                else (lambda done, total, succeeded, role=role: self.progress(role, done, total, succeeded))
            )
            config = dataclasses.replace(self.config, examples=len(block))
            results.append(
                run_attack(
                    model,
                    self.dataset,
                    config,
                    indices=block,
                    progress=report,
                    cache_dir=self.cache_dir,
                    recipe=self.recipe,
                    in_flight=self.in_flight,
                    attack_examples=self.attack_examples,
                )
            )
        self._replay(results[0])
        self.blocks.append((results[0], results[1]))
        return self.comparison()

    def _replay(self, teacher_block: AttackResult) -> None:
        adversarial = [e for e in teacher_block.examples if e.status == "succeeded"]
        self.student_view.score([(e.text_pair, e.perturbed_text) for e in adversarial])
        for example in adversarial:
            student_label = int(np.argmax(self.student_view.cache[(example.text_pair, example.perturbed_text)]))
            self.replayed[example.index] = (
                student_label != example.label,
                student_label == int(np.argmax(example.perturbed_probs)),
            )

    def comparison(self) -> RobustnessComparison:
        """The paired comparison over every example attacked so far."""
        if not self.blocks:
            raise LoyaltyError("nothing is attacked yet; call attack_next(block_size) first")
        teacher, student = (self._joined([block[side] for block in self.blocks]) for side in (0, 1))
        adversarial = [e for e in teacher.examples if e.status == "succeeded"]
        if not adversarial:
            return RobustnessComparison(teacher, student, float("nan"), float("nan"))
        loyalty = float(np.mean([self.replayed[e.index][1] for e in adversarial]))
        # transfer counts only examples the student got right before the attack
        student_right = {e.index for e in student.examples if e.status != "skipped"}
        fooled = [self.replayed[e.index][0] for e in adversarial if e.index in student_right]
        transfer = float(np.mean(fooled)) if fooled else float("nan")
        return RobustnessComparison(teacher, student, transfer, loyalty)

    def _joined(self, parts: list[AttackResult]) -> AttackResult:
        examples = tuple(e for part in parts for e in part.examples)
        return AttackResult(
            parts[0].model_name,
            dataclasses.replace(self.config, examples=len(examples)),
            examples,
            sum(p.seconds for p in parts),
            parts[0].label_names,
            sum(p.forward_seconds for p in parts),
        )


def compare_robustness(
    teacher,
    student,
    dataset,
    config: AttackConfig,
    *,
    progress=None,
    cache_dir=None,
    recipe=None,
    in_flight: int = DEFAULT_IN_FLIGHT,
    attack_examples=None,
) -> RobustnessComparison:
    """Attack teacher and student on the same seeded examples with the same recipe, seed and budget;
    replay the teacher's adversarial texts on the student for transfer rate and adversarial loyalty.
    progress(role, done, total, succeeded), role "teacher" or "student", after each example."""
    run = RobustnessRun(
        teacher,
        student,
        dataset,
        config,
        progress=progress,
        cache_dir=cache_dir,
        recipe=recipe,
        in_flight=in_flight,
        attack_examples=attack_examples,
    )
    return run.attack_next(config.examples)
