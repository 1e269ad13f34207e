"""The local engine: everything in this process, exactly as ``predict`` and ``run_attack`` do it."""

from __future__ import annotations


class LocalEngine:
    """Runs predictions and attacks in the calling process (the default engine)."""

    name = "local"
    predict_proba = None  # no hooks: predict() and run_attack() run their own local code
    attack_examples = None

    def predict(self, model, dataset, *, cache_dir=None, progress=None):
        from ..predictions import predict

        return predict(model, dataset, cache_dir=cache_dir, progress=progress, predict_proba=self.predict_proba)

    def run_attack(
        self,
        model,
        dataset,
        config,
        *,
        indices=None,
        progress=None,
        cache_dir=None,
        recipe=None,
        in_flight: int | None = None,
    ):
        from ..robustness import run_attack
        from ..robustness.lockstep import DEFAULT_IN_FLIGHT

        return run_attack(
            model,
            dataset,
            config,
            indices=indices,
            progress=progress,
            cache_dir=cache_dir,
            recipe=recipe,
            in_flight=in_flight or DEFAULT_IN_FLIGHT,
            attack_examples=self.attack_examples,
        )

    def compare_robustness(
        self,
        teacher,
        student,
        dataset,
        config,
        *,
        progress=None,
        cache_dir=None,
        recipe=None,
        in_flight: int | None = None,
    ):
        from ..robustness import compare_robustness
        from ..robustness.lockstep import DEFAULT_IN_FLIGHT

        return compare_robustness(
            teacher,
            student,
            dataset,
            config,
            progress=progress,
            cache_dir=cache_dir,
            recipe=recipe,
            in_flight=in_flight or DEFAULT_IN_FLIGHT,
            attack_examples=self.attack_examples,
        )

    def close(self) -> None:
        """Nothing to release (the Ray engine shuts down the Ray instance it started)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return "LocalEngine()"
