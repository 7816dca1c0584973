"""Cross-cutting building blocks: config, errors, retry, Operation, status, lineage, logging, tracing.

Nothing in ``core`` imports Azure, MLflow, DuckDB or the web stack.
"""
