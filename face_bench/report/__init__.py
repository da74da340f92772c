"""Turning results into files people read: figures, tables, CSVs, the HTML report.

Rendered from a run folder alone (``render.render_report``): may import ``results``,
``metrics``, ``data``, ``core``; never ``run``, ``embedding``, ``models``, ``faces`` or ``gate``
(pyproject's import-linter contracts hold it to this). matplotlib, umap and jinja2 are
imported lazily.
"""
