"""Datasets, images and pair protocols: what is evaluated, before any face is found.

May import: ``face_bench.core``. Pillow only; no dlib, onnxruntime, matplotlib or umap.
"""
