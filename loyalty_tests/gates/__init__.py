"""Gates: a measured metric, its interval and a threshold -> a verdict that says why.

``thresholds`` holds the settings, ``checks`` the verdict type, one module per kind of gate.
"""
