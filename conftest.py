"""Root conftest: its presence puts the repository root on sys.path, so the tests import the
working tree's ``loyalty_tests`` even before (or without) ``pip install -e .``."""
