"""Targets the suites run against: ``local`` (the reference stack), ``kind`` and ``compose``."""
