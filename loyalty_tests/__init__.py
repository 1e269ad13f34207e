"""loyalty_tests: gate a compressed text classifier (student) against its teacher.

Follows Xu et al., EMNLP 2021, "Beyond Preserved Accuracy: Evaluating Loyalty and Robustness
of BERT Compression". Importing this package loads no model and touches no network.
"""

__version__ = "0.1.0"
