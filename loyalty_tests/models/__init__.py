"""Models: spec strings -> teachers and students (``specs``), the classifier types (``classifiers``)
and the embedded demo teacher (``demo``).
"""
