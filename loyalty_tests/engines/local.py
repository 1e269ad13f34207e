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

    def run_attack(self, model, dataset, config, *, indices=None, progress=None, cache_dir=None, recipe=None):
        from ..robustness.attack import run_attack

        return run_attack(model, dataset, config, indices=indices, progress=progress, cache_dir=cache_dir,
                          recipe=recipe, attack_examples=self.attack_examples)

    def compare_robustness(self, teacher, student, dataset, config, *, progress=None, cache_dir=None, recipe=None):
        from ..robustness.attack import compare_robustness

        return compare_robustness(teacher, student, dataset, config, progress=progress, cache_dir=cache_dir,
                                  recipe=recipe, attack_examples=self.attack_examples)

    def close(self) -> None:
        """Nothing to release (the Ray engine shuts down the Ray instance it started)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return "LocalEngine()"
