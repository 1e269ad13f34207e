"""``BuildContext``: what every compression method may need besides its config, passed explicitly.

Where trained students are cached (and whether to use that cache at all), and where progress
messages go. ``compress()`` builds one from its arguments and hands it to each method's handler,
the way torchao passes everything a ``quantize_`` call needs as arguments rather than through
ContextVars a reader cannot follow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BuildContext:
    cache_dir: Path | None = None  # None: $LOYALTY_CACHE_DIR or the user cache folder
    use_cache: bool = True  # False (--loyalty-no-cache): train afresh, write nothing
    progress: Callable[[str], None] = print

    def students_dir(self) -> Path | None:
        """The trained-student folder, or None when this build must not use the cache."""
        from ..infra.cache import default_cache_dir

        if not self.use_cache:
            return None
        return Path(self.cache_dir or default_cache_dir()) / "students"

    def reporter(self, label: str) -> Callable[[int, int, float], None]:
        """A train-loop callback that reports every tenth of the way to ``progress``.

        >>> lines = []
        >>> report = BuildContext(progress=lines.append).reporter("distill")
        >>> for step in range(1, 21):
        ...     report(step, 20, 0.5)
        >>> lines[:2]
        ['distill: step 2/20, loss 0.500', 'distill: step 4/20, loss 0.500']
        """

        def report(step: int, total: int, loss: float) -> None:
            if step % max(1, total // 10) == 0 or step == total:
                self.progress(f"{label}: step {step}/{total}, loss {loss:.3f}")

        return report
