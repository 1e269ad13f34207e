"""Spec strings -> classifiers: what ``--teacher`` and ``--student`` accept.

``demo`` (the embedded teacher), a compression recipe of the teacher (``int8``,
``distill:layers=3+int8``), a local Hugging Face folder (``./my-model``), an ONNX file
(``./model.onnx``), a Python factory (``pkg.module:make_model``) or a hub id (``ORG/NAME``).
Causal LMs are recognised by the model, never by a flag: a folder whose config names a
``*ForCausalLM`` architecture, a ``.gguf`` file, or a factory returning an LM load as a
``lm.CausalLM`` (see ``lm.loading``); ``model_kind`` tells the two kinds apart.
This module sits above ``models`` (classifier types), ``demo`` and ``compress``: it imports
them, none of them imports it.
"""

from __future__ import annotations

import importlib
import pickle
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LoyaltyError, first_line
from ..infra.cache import default_cache_dir, fingerprint, hash_files
from ..infra.quiet import no_progress_bars
from ..lm.loading import as_causal_lm, folder_is_causal_lm, load_gguf, load_lm_folder
from ..lm.model import CausalLM, check_same_kind, model_kind  # noqa: F401  (re-exported for the plugin)
from .classifiers import (
    CallableClassifier,
    Classifier,
    HFClassifier,
    OnnxClassifier,
    check_batching,
    check_position_limit,
    position_limit,
)
from .fingerprints import tokenizer_fingerprint
from .spec_forms import FACTORY, HUB_ID, SPEC_FORMS, is_path, is_recipe, recipe_hint

DEFAULT_MAX_LENGTH = 128
_WEIGHT_AND_TOKENIZER_FILES = (
    "*.safetensors",
    "*.bin",
    "*.onnx",
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "special_tokens_map.json",
    "*.model",
)


@dataclass(frozen=True)
class ModelOptions:
    batch_size: int = 32
    # None: DEFAULT_MAX_LENGTH, or the model's own limit when it reads fewer tokens (said so);
    # a number the user chose is refused when it is above the model's limit, never lowered
    max_length: int | None = None
    device: str = "cpu"
    tokenizer: str | None = None  # tokenizer folder for .onnx specs
    cache_dir: Path = field(default_factory=default_cache_dir)
    # False (--loyalty-no-cache): students are trained afresh and not written to cache_dir; the demo
    # teacher is still built once and cached there (it is the reference, not a result)
    use_cache: bool = True
    trust_remote_code: bool = False
    allow_pickle: bool = False  # .bin (pickle) weights load only when asked; safetensors otherwise
    seed: int = 0
    progress: Callable[[str], None] = print
    # A TextDataset, or a callable returning one (or None), for compression methods that train;
    # a callable lets the plugin skip loading training data for recipes that never train.
    train_data: object | None = None

    def __post_init__(self):
        # checked here too, before any model work: a bad batch size must not wait for a demo build
        check_batching(
            "model options", self.batch_size, DEFAULT_MAX_LENGTH if self.max_length is None else self.max_length
        )


def load_model(
    spec: str, *, teacher: Classifier | CausalLM | None = None, options: ModelOptions | None = None
) -> Classifier | CausalLM:
    """Turn a ``--teacher``/``--student`` spec into a classifier or a causal LM (see the module docstring)."""
    options = options or ModelOptions()
    spec = str(spec).strip()
    if not spec:
        raise LoyaltyError(f"empty model spec; give {SPEC_FORMS}")
    if spec == "demo":
        from .demo import load_demo_teacher

        return load_demo_teacher(
            options.cache_dir,
            batch_size=options.batch_size,
            max_length=options.max_length or DEFAULT_MAX_LENGTH,
            device=options.device,
            progress=options.progress,
        )
    if is_recipe(spec):
        return _compressed(spec, teacher, options)
    path = Path(spec).expanduser()
    if spec.endswith(".onnx"):
        return _load_onnx(path, spec, options, teacher)
    if spec.endswith(".gguf"):
        return load_gguf(str(path), spec, device=options.device)
    if path.is_dir() and folder_is_causal_lm(path):
        return load_lm_folder(
            str(path),
            spec,
            device=options.device,
            allow_pickle=options.allow_pickle,
            trust_remote_code=options.trust_remote_code,
        )
    if path.is_dir():
        return _load_hf(str(path), spec, options, local=True, teacher=teacher)
    if FACTORY.match(spec) and not path.exists():
        return _load_factory(spec, options)
    if path.exists():
        raise LoyaltyError(
            f"model spec {spec!r} is a file; give its folder (a Hugging Face model directory), "
            "an .onnx file or a .gguf file"
        )
    if is_path(spec):
        raise LoyaltyError(
            f"model path {spec!r} does not exist (looked for {path.absolute()}; paths are relative "
            f"to the current folder {Path.cwd()}); check the path"
        )
    if HUB_ID.match(spec):
        return _load_hub(spec, path, options, teacher)
    raise LoyaltyError(f"unknown model spec {spec!r}{recipe_hint(spec)}; give {SPEC_FORMS}")


def _compressed(spec: str, teacher: Classifier | CausalLM | None, options: ModelOptions) -> Classifier | CausalLM:
    from ..compress import compress

    if teacher is None:
        raise LoyaltyError(f"student spec {spec!r} is a compression recipe and needs a teacher; pass --teacher")
    if not isinstance(teacher, (HFClassifier, CausalLM)):
        raise LoyaltyError(
            f"recipe {spec!r} compresses a PyTorch Hugging Face teacher, but the teacher {teacher.name!r} "
            f"is a {type(teacher).__name__}; give a Hugging Face teacher or a ready-made student"
        )
    from ..compress import parse_recipe

    # Training data is loaded only for recipes with a step that uses it (a config class says so
    # with ``uses_data = True``): int8 must not need, or wait for, a train split.
    configs = parse_recipe(spec)
    data = None
    if any(type(config).uses_data for config in configs):
        data = options.train_data() if callable(options.train_data) else options.train_data
    return compress(
        teacher,
        configs,
        data,
        seed=options.seed,
        progress=options.progress,
        cache_dir=options.cache_dir,
        use_cache=options.use_cache,
    )


def _load_hub(spec: str, path: Path, options: ModelOptions, teacher=None) -> HFClassifier:
    """A hub id, after a quick check that the hub can be reached; offline, only the local Hugging
    Face cache is tried, and a miss names both readings of the spec within seconds."""
    from ..infra.network import hub_endpoint, hub_unreachable_reason

    reason = hub_unreachable_reason()
    if reason is None:
        return _load_hf(spec, spec, options, local=False, teacher=teacher)
    try:
        return _load_hf(spec, spec, options, local=False, local_files_only=True, teacher=teacher)
    except LoyaltyError as error:
        raise LoyaltyError(
            f"model spec {spec!r}: not a local folder: {path.absolute()} does not exist; as a hub model id it "
            f"needs network, and {hub_endpoint()} cannot be reached ({reason}) nor is the model in the local "
            "Hugging Face cache. Check the path, or run where the hub can be reached"
        ) from error


def max_length_for(name: str, limit: int | None, options: ModelOptions, teacher=None) -> int:
    """The tokens per text a model reads: the user's --loyalty-max-length (refused above the
    model's limit), else DEFAULT_MAX_LENGTH, lowered to the model's limit with a note when the
    model reads fewer: a default nobody chose must not stop every gate."""
    if options.max_length is not None:
        check_position_limit(name, options.max_length, limit)
        return options.max_length
    if limit is None or limit >= DEFAULT_MAX_LENGTH:
        return DEFAULT_MAX_LENGTH
    other = getattr(teacher, "max_length", None)
    alike = (
        (
            f"; the teacher reads up to {other}, so texts longer than {limit} tokens reach the two models "
            f"differently truncated: pass --loyalty-max-length {limit} to truncate both alike"
        )
        if other and other > limit
        else ""
    )
    options.progress(
        f"model {name!r} reads at most {limit} tokens: its texts are truncated to {limit} "
        f"(--loyalty-max-length was not set; its default is {DEFAULT_MAX_LENGTH}){alike}"
    )
    return limit


def _load_hf(
    source: str, name: str, options: ModelOptions, *, local: bool, local_files_only: bool = False, teacher=None
) -> HFClassifier:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    kwargs = dict(trust_remote_code=options.trust_remote_code)
    if local_files_only:
        kwargs["local_files_only"] = True
    if local and not options.allow_pickle and not list(Path(source).glob("*.safetensors")):
        found = sorted(p.name for p in Path(source).iterdir())
        raise LoyaltyError(
            f"model folder {source!r} has no .safetensors weights (it has {found}); save it with "
            "save_pretrained(..., safe_serialization=True), or pass --loyalty-allow-pickle to load .bin "
            "(pickle) weights you trust"
        )
    where = f"folder {source!r}" if local else f"hub model {source!r} (needs network)"
    try:
        with no_progress_bars():
            tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
            model, loading = AutoModelForSequenceClassification.from_pretrained(
                source, use_safetensors=None if options.allow_pickle else True, output_loading_info=True, **kwargs
            )
    except (OSError, ValueError) as error:
        raise LoyaltyError(f"could not load a sequence classifier from {where}: {error}") from error
    except pickle.UnpicklingError as error:  # torch.load(weights_only=True) refused a global: no code ran
        files = ", ".join(sorted(p.name for p in Path(source).glob("*.bin"))) if local else ""
        raise LoyaltyError(
            f"refused to load the pickle weights{f' ({files})' if files else ''} in {where}: they call "
            f"{_blocked_global(error)}, which "
            "is not plain tensor data (loading it would run code); use safetensors weights"
        ) from None
    missing = sorted(loading.get("missing_keys") or [])
    if missing:  # transformers would only warn, and fill them with random numbers: gating a random head
        raise LoyaltyError(
            f"{where} lacks trained weights for {len(missing)} tensor(s) ({', '.join(missing[:4])}"
            f"{', ...' if len(missing) > 4 else ''}), which transformers would initialise at random; "
            "save the fine-tuned sequence classifier itself (model.save_pretrained), not its base model"
        )
    files = sorted(p for pattern in _WEIGHT_AND_TOKENIZER_FILES for p in Path(source).glob(pattern)) if local else []
    max_length = max_length_for(name, position_limit(model.config, tokenizer), options, teacher)
    stamp = fingerprint("hf-dir", hash_files(files), tokenizer_fingerprint(tokenizer), max_length) if files else None
    return HFClassifier(model, tokenizer, name, options.batch_size, max_length, options.device, stamp)


def _load_onnx(path: Path, spec: str, options: ModelOptions, teacher=None) -> OnnxClassifier:
    if not path.is_file():
        raise LoyaltyError(f"ONNX model {spec!r} does not exist; check the path (relative to {Path.cwd()})")
    try:
        import onnxruntime
    except ImportError as error:
        raise LoyaltyError("ONNX specs need onnxruntime: pip install 'pytest-loyalty[onnx]'") from error
    from transformers import AutoConfig, AutoTokenizer

    tokenizer_dir = Path(options.tokenizer) if options.tokenizer else path.parent
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir), trust_remote_code=options.trust_remote_code)
    except (OSError, ValueError) as error:
        raise LoyaltyError(
            f"no tokenizer for ONNX model {spec!r} in {str(tokenizer_dir)!r}; put the tokenizer files "
            "next to the .onnx file or pass --tokenizer DIR"
        ) from error
    config_dir = path.parent if (path.parent / "config.json").exists() else tokenizer_dir
    try:
        config = AutoConfig.from_pretrained(str(config_dir))
    except (OSError, ValueError) as error:
        raise LoyaltyError(
            f"no config.json with id2label for ONNX model {spec!r}; put the model's config.json next to the .onnx file"
        ) from error
    id2label = config.id2label
    max_length = max_length_for(spec, position_limit(config, tokenizer), options, teacher)
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime's own types (InvalidProtobuf, Fail, ...): the file is at fault
        raise LoyaltyError(
            f"ONNX model {spec!r} cannot be loaded by onnxruntime ({first_line(error)}); check that "
            "the file is a complete ONNX model (re-export it)"
        ) from None
    files = [path, *sorted(p for p in config_dir.glob("config.json"))]
    stamp = fingerprint("onnx", hash_files(files), tokenizer_fingerprint(tokenizer), max_length)
    labels = tuple(str(id2label[i]) for i in range(len(id2label)))
    return OnnxClassifier(session, tokenizer, spec, labels, options.batch_size, max_length, stamp, str(path))


def _blocked_global(error: BaseException) -> str:
    """The global a weights-only unpickler refused (e.g. ``posix.system``), as torch names it."""
    found = re.search(r"unsupported GLOBAL (\S+)", str(error))
    return found.group(1) if found else "a global that is not tensor data"


def _load_factory(spec: str, options: ModelOptions) -> Classifier:
    module_name, attribute = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise LoyaltyError(f"cannot import {module_name!r} for model factory {spec!r}: {error}") from error
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise LoyaltyError(f"{spec!r}: module {module_name!r} has no callable {attribute!r}")
    try:
        made = factory()
    except LoyaltyError:
        raise
    except Exception as error:  # the user's code failing is bad input, not an internal error of the plugin
        raise LoyaltyError(f"model factory {spec!r} raised {type(error).__name__}: {error}; fix the factory") from error
    language_model = as_causal_lm(made, spec, device=options.device)
    return language_model if language_model is not None else as_classifier(made, spec, options)


def as_classifier(obj, name: str, options: ModelOptions | None = None) -> Classifier:
    """Wrap what a factory returned: a classifier, a (model, tokenizer) pair, or a predict_proba object."""
    options = options or ModelOptions()
    if isinstance(obj, (HFClassifier, OnnxClassifier, CallableClassifier)):
        return obj
    if isinstance(obj, tuple) and len(obj) == 2 and hasattr(obj[0], "config"):
        max_length = max_length_for(name, position_limit(obj[0].config, obj[1]), options)
        return HFClassifier(obj[0], obj[1], name, options.batch_size, max_length, options.device)
    if hasattr(obj, "predict_proba"):
        names = getattr(obj, "label_names", None)
        names = names if names is not None else getattr(obj, "classes_", None)
        if names is None:
            raise LoyaltyError(
                f"{name!r} returned an object with predict_proba but no label names; "
                "give it a label_names (or sklearn-style classes_) attribute listing its output columns"
            )
        return CallableClassifier(obj, name, tuple(str(n) for n in names), getattr(obj, "fingerprint", None))
    raise LoyaltyError(
        f"{name!r} returned {type(obj).__name__}; return a (model, tokenizer) pair, "
        "or an object with predict_proba(texts) and label_names"
    )
