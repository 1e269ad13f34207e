"""Keep transformers' own output out of the user's pytest report.

Its "Loading weights" and "Writing model shards" bars go to stderr on every load and save; in a
gate run they only hide our own progress lines and the report. Warnings stay on: a load that
would warn is checked by the caller instead (``specs`` refuses a folder whose weights miss keys).
"""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def no_progress_bars():
    """transformers' progress bars off for the block, as they were afterwards."""
    from transformers.utils import logging as transformers_logging

    enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            transformers_logging.enable_progress_bar()


@contextlib.contextmanager
def quiet_transformers():
    """Bars off and only errors logged: for our own builds, where transformers' report that a new
    head's weights are "missing from the checkpoint" is the point of fine-tuning, not news."""
    from transformers.utils import logging as transformers_logging

    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    try:
        with no_progress_bars():
            yield
    finally:
        transformers_logging.set_verbosity(verbosity)
