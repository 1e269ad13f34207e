"""The built-in gate tests, collected when ``--teacher`` and ``--student`` are given."""
