"""The face-bench release number, written into every results file it produces.

A module of its own so that any layer can stamp a file without importing the package root
(the public API, which sits above every layer). Keep it equal to ``version`` in pyproject.toml.
"""

__version__ = "0.1.0"
