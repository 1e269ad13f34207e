""" "Did you mean ...?" for names users type: recipes, attack recipes, datasets, ini keys, options."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_matches(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """Known names that look like ``name`` (difflib's ratio >= 0.6), closest first.

    >>> close_matches("pune", ["prune", "int8", "heads"])
    ['prune']
    """
    return difflib.get_close_matches(str(name), [str(k) for k in known], n=n, cutoff=0.6)


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` (did you mean prune?)`` when a known name is close, else an empty string.

    >>> did_you_mean("pune", ["prune", "int8"])
    ' (did you mean prune?)'
    >>> did_you_mean("zzz", ["prune", "int8"])
    ''
    """
    matches = close_matches(name, known, n=1)
    return f" (did you mean {matches[0]}?)" if matches else ""
