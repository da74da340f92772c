"""Turning results into files people read: figures, tables, CSVs, the HTML report.

May import: ``run``, ``results``, ``metrics``, ``data``, ``core``; never ``embedding``, ``models``,
``faces`` or ``gate``. matplotlib, umap and jinja2 are imported lazily.
"""
