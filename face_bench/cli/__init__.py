"""The ``face-bench`` command line: thin Typer commands over the library.

May import every layer; nothing imports it but ``face_bench.__main__``.
"""
