"""Student labels: ``--student release=./models/mid`` names a student ``release`` whatever its path.

The label names the student in test ids and reports, so a baseline written by one release's run
matches the next release's student by label, not by where its files happen to be.
"""

from __future__ import annotations

import re

# LABEL=SPEC: a label is a plain name; a recipe (int8:per_channel=true) or a path (./a=b, dir/a=b)
# has a ':', '.', '/' or '~' before its first '=' and is never taken for one.
_LABELLED = re.compile(r"^([A-Za-z_][\w-]*)=(.+)$")


def split_label(text: str) -> tuple[str, str]:
    """(label, spec) of a ``--student`` value; the label is the spec itself when none is given.

    >>> split_label("release=./models/mid")
    ('release', './models/mid')
    >>> split_label("distill:layers=3")
    ('distill:layers=3', 'distill:layers=3')
    >>> split_label("./models/mid")
    ('./models/mid', './models/mid')
    """
    match = _LABELLED.match(str(text))
    return (match.group(1), match.group(2)) if match else (str(text), str(text))
