"""The Ray engine's GPU path, on a machine with a GPU: one replica per GPU, outputs equal to a local run.

    python benchmarks/ray_gpu_check.py        # needs torch with CUDA, ray[data] and a visible GPU

Checks, and prints, that with ``device="cuda"`` (1) the engine asks Ray for a GPU per replica,
(2) predictions equal a local run on the same GPU, (3) an attack's outcomes equal a local run's,
and (4) the attack worker's model sits on the GPU it was given. The driver's model is on the GPU,
so this also checks that a GPU-held model is shipped (``torch.load`` with ``map_location="cpu"``)
and moved to the worker's GPU. Exits non-zero on any difference.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from tiny import tiny_bert, tiny_tokenizer  # noqa: E402

from loyalty_tests.data import TextDataset  # noqa: E402
from loyalty_tests.engines import get_engine  # noqa: E402
from loyalty_tests.models.classifiers import HFClassifier  # noqa: E402
from loyalty_tests.robustness import AttackConfig, run_attack  # noqa: E402

TEXTS = [
    "a good movie",
    "great film",
    "very bad",
    "the film is awful",
    "not good at all",
    "a great movie",
    "the film is a great and moving story about a family that finds its way home",
] * 20


def main() -> None:
    import ray

    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device visible to torch")
    ray.init(include_dashboard=False, logging_level="WARNING")
    print("cluster:", ray.cluster_resources())
    model = tiny_bert(layers=2, hidden=64, heads=2)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # wide weights: outputs differ clearly between texts, attacks flip some
        for name, parameter in model.named_parameters():
            if "LayerNorm" not in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    classifier = HFClassifier(model, tiny_tokenizer(Path(tempfile.mkdtemp())), "tiny-gpu", batch_size=16, device="cuda")
    engine = get_engine("ray", device="cuda")
    uses_gpus = engine.uses_gpus
    print("uses GPUs:", uses_gpus, "replicas:", engine.workers())
    local = classifier.predict_proba(TEXTS)
    remote = engine.predict_proba(classifier, TEXTS)
    difference = float(np.abs(local - remote).max())
    print(
        f"predictions: max |ray - local| = {difference:.2e}, "
        f"labels equal: {(local.argmax(1) == remote.argmax(1)).all()}"
    )
    data = TextDataset("gpu-check", tuple(TEXTS), tuple([1, 1, 0, 0, 0, 1, 1] * 20), ("negative", "positive"))
    config = AttackConfig("charswap", examples=12, budget=60, seed=0)
    indices = list(range(12))
    local_attack = run_attack(classifier, data, config, indices=indices)
    remote_attack = engine.run_attack(classifier, data, config, indices=indices)
    same = [(e.status, e.perturbed_text, e.queries) for e in local_attack.examples] == [
        (e.status, e.perturbed_text, e.queries) for e in remote_attack.examples
    ]
    print(
        f"attack: outcomes equal: {same}; success rate local {local_attack.attack_success_rate:.3f}, "
        f"ray {remote_attack.attack_success_rate:.3f}"
    )
    workers = [ray.get(worker.describe.remote()) for worker in engine._attack_workers]
    print("attack workers:", workers)
    on_gpu = all(w["gpu_ids"] and all(d.startswith("cuda") for d in w["models"].values() if d != "-") for w in workers)
    engine.close()
    ray.shutdown()
    if not uses_gpus or difference > 1e-6 or not same or not on_gpu:
        raise SystemExit("GPU check FAILED")
    print("GPU check passed")


if __name__ == "__main__":
    main()
