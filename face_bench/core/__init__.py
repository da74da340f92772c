"""Foundations every layer may use: errors, option vocabularies, configuration, safe file I/O.

Imports nothing from face_bench outside ``core``; no heavy libraries.
"""
