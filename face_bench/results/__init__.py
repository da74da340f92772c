"""The typed results contract (``results.json``), its JSON Schema and the score file.

May import: ``core``, ``metrics`` (catalog and metric types), ``data`` (the pair set a score
file is checked against); never ``embedding``, ``models`` or ``faces``. Everything downstream
reads these types.
"""
