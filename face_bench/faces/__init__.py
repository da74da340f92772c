"""Finding and aligning faces: detection, landmarks, aligned chips (dlib, loaded lazily).

May import: ``face_bench.core``, ``face_bench.data``; never ``metrics`` or ``results``.
"""
