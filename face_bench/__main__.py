"""``python -m face_bench`` runs the CLI."""

from face_bench.cli.app import main

main()
