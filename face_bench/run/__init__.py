"""Running an evaluation: plan (dataset, subsets, pairs) -> embed -> score -> summarise.

May import every layer below (``results``, ``metrics``, ``embedding``, ``models``, ``faces``,
``data``, ``core``); never ``report``, ``gate`` or ``cli``.
"""
