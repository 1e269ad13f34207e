"""Save the demo teacher to a folder a team can point at: ``loyalty-demo-teacher ./models/teacher``.

The demo teacher lives in the cache under a fingerprinted name; a team trying the plugin in its
own project wants it where its conftest or command line can name it (``load_model(
"./models/teacher")``, ``--teacher ./models/teacher``). This builds it if needed (the first time
takes minutes) and copies the Hugging Face folder — safetensors weights, config, tokenizer and
the build record ``demo.json`` — to the path given. Nothing is overwritten: the target must be a
new or empty folder, and it appears whole or not at all (copied beside it, then renamed).

    loyalty-demo-teacher ./models/teacher                   # the console script
    python -m loyalty_tests.models.demo_export ./models/teacher
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..errors import LoyaltyError
from ..infra.cache import default_cache_dir
from . import demo


def save_demo_teacher(
    target: str | Path, *, cache_dir: str | Path | None = None, progress: Callable[[str], None] = print
) -> Path:
    """Copy the demo teacher (built on first use) to the new folder ``target``; returns it."""
    target = Path(target).expanduser()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise LoyaltyError(
            f"{str(target)!r} already exists and is not an empty folder; give a new folder "
            "(the demo teacher is never written over other files)"
        )
    source = demo.build_demo_teacher(Path(cache_dir).expanduser() if cache_dir else default_cache_dir(), progress)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for path in sorted(source.iterdir()):
            if path.is_file():
                shutil.copy2(path, staging / path.name)
        if target.exists():
            target.rmdir()  # empty, checked above
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="loyalty-demo-teacher",
        description="Save the embedded demo teacher (all-MiniLM-L6-v2 fine-tuned on Rotten Tomatoes) and its "
        "tokenizer to a folder, for --teacher PATH or load_model(PATH).",
    )
    parser.add_argument("path", help="a new (or empty) folder, e.g. ./models/teacher")
    parser.add_argument(
        "--cache-dir",
        default=None,
        help="where the demo teacher is cached (default $LOYALTY_CACHE_DIR or ~/.cache/loyalty_tests)",
    )
    args = parser.parse_args(argv)
    try:
        target = save_demo_teacher(args.path, cache_dir=args.cache_dir, progress=print)
    except LoyaltyError as error:
        print(f"loyalty-demo-teacher: {error}", file=sys.stderr)
        return 2
    info = demo.read_demo_info(target)
    print(
        f"saved the demo teacher (held-out accuracy {info['held_out_accuracy']:.3f} on {info['test_data']}) "
        f"to {target}; use it as --teacher {args.path} or load_model({args.path!r})"
    )  # as the user typed it
    return 0


if __name__ == "__main__":
    sys.exit(main())
