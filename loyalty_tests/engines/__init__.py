"""Where the heavy work runs: ``local`` (this process, the default) or ``ray`` (a Ray cluster).

An engine does two things, each exactly as the local code does it, only elsewhere:

- ``engine.predict(model, dataset, cache_dir=..., progress=...)`` -> ``Predictions``: the
  model's probabilities on every example (checked and cached on this machine by
  ``predictions.predict``; the engine only computes them);
- ``engine.compare_robustness(teacher, student, dataset, config, ...)`` and
  ``engine.run_attack(model, dataset, config, ...)``: attacks, seeded per example, results
  cached on this machine by ``robustness.attack.run_attack``.

Lower down, ``engine.predict_proba`` and ``engine.attack_examples`` are the two hooks those
functions take (``predict(..., predict_proba=...)``, ``run_attack(..., attack_examples=...)``);
the local engine has neither (``None``: the local code runs as it always did).

``get_engine("ray", ...)`` needs the optional ``[ray]`` extra; without it, a ``LoyaltyError``
says how to install it.
"""

from __future__ import annotations

import importlib.util

from ..errors import LoyaltyError

ENGINES = ("local", "ray")
RAY_EXTRA = "pip install 'pytest-loyalty[ray]'"


def get_engine(
    name: str = "local", *, address: str | None = None, device: str = "cpu", workers: int | None = None, **ray_options
):
    """The engine called ``name``: ``local`` or ``ray``.

    For ``ray``: ``address`` None uses Ray if this process already joined one, else starts a local
    instance (or joins ``$RAY_ADDRESS`` when set); ``auto`` joins the running cluster that ``ray
    start`` made; anything else (``HOST:PORT``, ``ray://...``) is handed to ``ray.init(address=...)``;
    ``device`` ``cuda`` gives each
    model replica a GPU where the cluster has GPUs (CPUs otherwise); ``workers`` caps the number
    of replicas (default: one per CPU, or per GPU); ``ray_options`` go to ``RayEngine`` (e.g.
    ``max_restarts``, ``attack_shard_size``, ``worker_cache_dir``, ``init_options``).
    """
    name = str(name or "local").strip().lower()
    if name not in ENGINES:
        raise LoyaltyError(f"unknown engine {name!r}; --loyalty-engine takes one of {', '.join(ENGINES)}")
    if name == "local":
        if address is not None or workers is not None or ray_options:
            raise LoyaltyError(
                "the local engine takes no Ray address, workers or Ray options; pass --loyalty-engine ray to use them"
            )
        from .local import LocalEngine

        return LocalEngine()
    require_ray()
    from .ray_engine import RayEngine

    return RayEngine(address=address, device=device, workers=workers, **ray_options)


def require_ray() -> None:
    """Fail with the install step when Ray (with Ray Data) is not installed."""
    missing = [module for module in ("ray", "ray.data") if not _importable(module)]
    if missing:
        raise LoyaltyError(
            f"--loyalty-engine ray needs Ray with Ray Data ({', '.join(missing)} not found): {RAY_EXTRA}"
        )


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # the parent package is missing
        return False


__all__ = ["ENGINES", "RAY_EXTRA", "get_engine", "require_ray"]
