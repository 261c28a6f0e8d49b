"""One module per schema change, oldest first (``0001_…``)."""
