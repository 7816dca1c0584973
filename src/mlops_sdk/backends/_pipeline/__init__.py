"""The training-pipeline DAG executor shared by the local and memory backends (Azure ML runs its own)."""
