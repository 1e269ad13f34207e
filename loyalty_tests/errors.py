"""The one exception type users see for bad input."""


class LoyaltyError(ValueError):
    """Bad input to loyalty_tests; the message names the input and how to fix it."""
