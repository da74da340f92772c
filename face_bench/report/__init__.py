"""Turning results into files people read: figures, tables, CSVs, the HTML report.

May import everything below it; matplotlib, umap and jinja2 are imported lazily.
"""
