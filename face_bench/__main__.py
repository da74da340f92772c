"""``python -m face_bench`` runs the CLI."""

from face_bench.cli.entry import main

main()
