"""The ``face-bench`` command line: thin Typer commands over the library."""
