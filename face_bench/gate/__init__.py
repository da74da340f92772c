"""The CI gate: compare a results file with a baseline and render the verdict.

May import: ``results``, ``metrics`` and ``core``; never ``run``, ``embedding``, ``models``,
``faces``, ``data`` or ``report`` (pyproject's import-linter contracts hold it to this).
"""
