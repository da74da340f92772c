"""The typed results contract (``results.json``), its JSON Schema and the score file.

May import: ``core``, ``metrics`` (catalog and metric types). Everything downstream reads
these types.
"""
