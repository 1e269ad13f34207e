"""Verdict statistics: confidence intervals and three-way outcomes (intervals), anytime-valid
sequences (sequential), latency speedup (speedup), sample sizes (sample_size) and flip accounting
(flips). Pure numpy and scipy; nothing here loads a model.
"""
