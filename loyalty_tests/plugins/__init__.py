"""The pytest plugins behind ``pytest --teacher X --student Y`` (entry point: ``plugin``)."""
