"""Backends: the SPI (``base``), the scheme registry, and the built-in ``local`` and ``azure`` backends.

All Azure, MLflow, DuckDB and web-stack imports live below this package, inside the functions that
need them, so ``import mlops_sdk`` stays cheap.
"""
