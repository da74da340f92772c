"""Embedding a set of images once per model: the content-addressed cache, worker processes
and the pipeline that feeds the backends.

May import: ``core``, ``data``, ``faces``, ``models``. Never ``metrics``,
``results`` or anything above.
"""
