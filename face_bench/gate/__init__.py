"""The CI gate: compare a results file with a baseline and render the verdict.

May import: ``results``, ``metrics`` and ``core``; never ``run``'s heavy machinery or ``report``.
"""
