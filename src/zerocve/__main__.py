"""``python -m zerocve``."""

from zerocve.cli import main

main()
