"""What a ``--teacher``/``--student`` spec string is, known without loading anything.

A path (``./my-model``, ``model.onnx``, ``model.gguf``), a compression recipe (``int8``), a
factory (``pkg.module:make_model``) or a hub id (``ORG/NAME``); ``check_spec`` runs when pytest
starts, so a typo stops the run before any model work. ``specs.load_model`` loads what it names.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import LoyaltyError

SPEC_FORMS = (
    "'demo' (the embedded teacher), a compression recipe applied to the teacher (e.g. 'int8'), "
    "a local Hugging Face model folder ('./my-model'), an ONNX file ('./model.onnx'), "
    "a Python factory ('pkg.module:make_model'), or a hub id ('ORG/NAME')"
)
FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


def is_path(spec: str) -> bool:
    """A spec that can only mean a local path: it starts with ., / or ~, has a backslash or more
    than one slash, or its first part is an existing folder (``models/my-student`` when ./models
    exists). Such a spec never goes to the hub, so a typo cannot download someone else's model."""
    if spec.startswith((".", "/", "~")) or "\\" in spec or spec.count("/") > 1:
        return True
    return "/" in spec and Path(spec.split("/", 1)[0]).expanduser().is_dir()


def is_recipe(spec: str) -> bool:
    from ..compress import known_method_names

    first_method = spec.split("+", 1)[0].split(":", 1)[0]
    return first_method in known_method_names()


def check_spec(spec: str, role: str) -> None:
    """What can be known about a spec without loading anything: a recipe parses, a path exists.

    The plugin calls it when pytest starts, so a typo stops the run before any model work."""
    spec = str(spec).strip()
    if not spec:
        raise LoyaltyError(f"empty {role} spec; give {SPEC_FORMS}")
    if spec == "demo" or FACTORY.match(spec):
        return
    if is_recipe(spec) or (":" in spec.split("/")[0] and not Path(spec).expanduser().exists()):
        from ..compress import parse_recipe

        if role == "teacher":
            raise LoyaltyError(
                f"teacher spec {spec!r} is a compression recipe; a recipe makes a student from the "
                "teacher: pass it as --student and give --teacher a model"
            )
        parse_recipe(spec)  # an unknown method or key fails here, with a suggestion
        return
    path = Path(spec).expanduser()
    if spec.endswith((".onnx", ".gguf")) and not path.is_file():
        raise LoyaltyError(
            f"{spec.rsplit('.', 1)[1].upper()} model {spec!r} does not exist; check the path (relative to {Path.cwd()})"
        )
    if path.exists() or (HUB_ID.match(spec) and not is_path(spec)):
        return  # a hub id is checked when it loads: that needs the network
    hint = recipe_hint(spec)
    if hint:
        raise LoyaltyError(
            f"{role} spec {spec!r} is neither a compression recipe nor an existing path{hint}; a spec is {SPEC_FORMS}"
        )
    raise LoyaltyError(
        f"{role} model path {spec!r} does not exist (looked for {path.absolute()}); check the path; "
        f"a spec is {SPEC_FORMS}"
    )


def recipe_hint(spec: str) -> str:
    """`` (did you mean int8?)`` for a spec that reads like a misspelt recipe name (``int9``), not a path.

    >>> recipe_hint("int9")
    ' (did you mean int8?)'
    >>> recipe_hint("./int9")
    ''
    """
    from ..compress import known_method_names
    from ..infra.suggest import did_you_mean

    if is_path(spec) or "/" in spec:
        return ""
    return did_you_mean(spec.split("+", 1)[0].split(":", 1)[0], known_method_names())
