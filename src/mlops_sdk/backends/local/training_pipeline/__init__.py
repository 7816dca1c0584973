"""Local training pipelines: the shared DAG executor over local training runs, state in ``mlops.db``.

Step outputs are copied (hard-linked where possible) into ``<store>/pipeline-outputs/sha256-<hex>/``
once their step succeeds; later steps read them from there, and a cached step points at them.
"""

from __future__ import annotations

from mlops_sdk.backends._pipeline.engine import PipelineEngine
from mlops_sdk.backends._pipeline.service import EnginePipelineService
from mlops_sdk.backends.local import LocalBackend
from mlops_sdk.backends.local.training_pipeline.state import MIGRATIONS, SqlitePipelineState
from mlops_sdk.backends.spi.keys import TRAINING

__all__ = ["create_service"]

_POLL_SECONDS = 0.1


def create_service(backend: LocalBackend) -> EnginePipelineService:
    """Entry point used by ``Backend.service("training_pipeline", ...)``."""
    backend.store.ensure_schema("training_pipelines", MIGRATIONS)
    engine = PipelineEngine(
        SqlitePipelineState(backend.store),
        lambda: backend.service(TRAINING),
        outputs_root=backend.folder / "pipeline-outputs",
        backend="local",
        now=backend.clock.now,
        exclude=(backend.folder,),
    )
    return EnginePipelineService(engine, backend="local", poll_seconds=_POLL_SECONDS)
