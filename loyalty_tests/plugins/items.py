"""What marks a built-in gate item and the properties it carries: shared by the hooks that label
items, the gate runner that records outcomes, and the report collector that reads them. Kept
apart (and light) so the collector and the plugin need not import the gate machinery."""

from __future__ import annotations

ROW_PROPERTY = "loyalty_row"  # a GateRecord as JSON, one per checked gate
ITEM_PROPERTY = "loyalty_item"  # {"student", "gate"}, set before the item runs
# set on a gate item skipped because it does not apply to this pair (an LM gate for classifiers, a
# classifier gate for LMs without a choice task): the report leaves it out rather than count a skip
NOT_APPLICABLE_PROPERTY = "loyalty_not_applicable"
SUITE_MODULE = "test_loyalty_gates.py"
LM_SUITE_MODULE = "test_lm_gates.py"  # the causal-LM gates


def is_gate_item(item) -> bool:
    return item.path.name in (SUITE_MODULE, LM_SUITE_MODULE) and item.path.parent.name == "suite"


def is_gate_nodeid(nodeid: str) -> bool:
    """Node ids are relative to where pytest collected the suite from, so only its file name is sure."""
    return f"{SUITE_MODULE}::" in nodeid or f"{LM_SUITE_MODULE}::" in nodeid
