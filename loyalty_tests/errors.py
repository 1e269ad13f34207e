"""The exception users see for bad input, and the warning for a cache entry that was not used."""


class LoyaltyError(ValueError):
    """Bad input to loyalty_tests; the message names the input and how to fix it."""


class LoyaltyCacheWarning(UserWarning):
    """A cache entry was unreadable, belonged to another key, or could not be written.

    The cache only saves time: whatever it cannot serve is recomputed, so this is a warning (shown
    in pytest's warnings summary), never an error, and never a reason to trust a file.
    """


def first_line(error: BaseException) -> str:
    """The first non-blank line of an exception's message (its type's name when there is none):
    what a one-line error needs from a library's multi-line message."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
