"""thuman.cli: the ``thuman`` command line (click). Thin: parses, reports, calls library code."""
