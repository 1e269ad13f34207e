"""``loyalty-bench``: the paper's comparison as one command (``run``) and its table and plot (``render``)."""
