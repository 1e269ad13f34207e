"""Gates: measurements and a threshold -> a typed, frozen verdict that says why.

Layout:

- ``registry``: the one list of gates (name, kind, module, when it is collected). Everything that
  names gates reads it: the built-in suite, ``warn_only``, the plugin's deselection, the reports.
- ``result``: the result types (``GateResult``, ``LatencyGateResult``, ``RobustnessGateResult``)
  and their exact JSON round trip (``result_from_json(r.to_json()) == r``).
- ``checks``: the shared decision (``gate_metric``: a metric with its CI against an inclusive
  limit, three-way outcome, the user's rule) and the baseline comparison.
- ``thresholds``: every threshold's default, range and the source of its effective value.
- one module per gate, each a pure function ``check(...)`` from measurements and thresholds to a
  result: ``accuracy_drop``, ``label_loyalty``, ``probability_loyalty``, ``negative_flip_rate``,
  ``label_distribution`` (read a ``LoyaltyReport``), ``latency`` (a ``LatencyResult``),
  ``robustness`` (a ``RobustnessComparison``; also the sequential decision and the feasibility
  note), ``baseline`` (the previous report). The pytest gates, ``assert_loyal`` /
  ``assert_faster`` / ``assert_robust`` and the benchmarks call these same functions.

Adding a gate that reads the two models' predictions (the common case):

1. a module ``gates/<name>.py`` with ``check(report, thresholds, *, warn_only=False, **_) ->
   GateResult`` (usually one ``checks.gate_metric`` call: metric, limit, direction, and how many
   examples would decide it) and, optionally, ``failure_examples(report, k)`` for its failure
   message;
2. one line in ``registry.GATES``: ``Gate("<name>", PREDICTION, "<name>", "<one-line summary>")``,
   with ``collected_with="threshold", threshold="<key>"`` when the gate only exists once its
   threshold is set;
3. its threshold in ``thresholds.THRESHOLD_SPECS`` (default, range, help): the command-line
   option ``--loyalty-<key>`` and the ini key ``loyalty_<key>`` follow from it;
4. tests both ways (a case where it must pass and one where it must fail).

The suite makes the test item ``test_<name>`` from the registry, the reports show the result, and
``warn_only`` accepts the name: nothing else changes. A gate with a measurement of its own (like
latency or robustness) also needs a result type in ``result`` (fields beyond ``GateResult``'s,
registered in ``RESULT_TYPES``), the session method that measures it, and a suite function that
asks the gate runner for it.
"""
