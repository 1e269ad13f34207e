"""Infrastructure every layer may use: on-disk caches, quiet transformers, the network check,
"did you mean" suggestions, the environment block and the recipe-options parser.
"""
