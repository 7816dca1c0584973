"""Azure ML jobs by name: what the training and the training-pipeline services share.

One :class:`AmlJobs` per service reads, creates (looked up before every attempt, so a lost answer
never starts a second job), lists and cancels jobs, and reads a failed run's run-history error.
The helpers below name jobs after idempotency keys, tag them with lineage and declare their inputs.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_sdk.backends.azure._aml_shim import run_details, storage_settings
from mlops_sdk.backends.azure._mlclient import quiet_azure
from mlops_sdk.backends.azure.errors import azure_errors, missing_target
from mlops_sdk.core.errors import ConfigurationError, MlopsError, ResourceNotFoundError
from mlops_sdk.core.lineage import Lineage
from mlops_sdk.core.logging import get_logger
from mlops_sdk.core.status import Status, status_from_aml
from mlops_sdk.models.training import TrainingInput

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from mlops_sdk.backends.azure import AzureBackend

__all__ = [
    "UPLOAD_RETRY",
    "AmlJobs",
    "aml_errors",
    "created_at",
    "guess_type",
    "job_input",
    "job_name_for_key",
    "job_tags",
    "string_tags",
]

_log = get_logger(__name__)
_FILE_SUFFIXES = (".csv", ".parquet", ".json", ".jsonl", ".txt", ".tsv", ".pkl", ".npy", ".npz")

UPLOAD_RETRY = {"retry_total": 3, "initial_backoff": 0.2, "increment_base": 1.2, "random_jitter_range": 0.2}
"""The storage SDK's retry for each code blob: 3 retries ~1.4-2 s apart (its default waits 15 s and more).

Re-uploading a whole code folder because one of its blobs failed once would rarely get through a flaky
connection (every blob must succeed in the same attempt); a failed upload fails the create, which the
SDK's policy retries (idempotent by job name: the code asset is content-addressed).
"""


def job_name_for_key(key: str) -> str:
    """The Azure ML job name an idempotency key maps to (stable, valid, collision-resistant)."""
    slug = re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")[:60] or "job"
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return f"mlops-{slug}-{digest}"


@contextlib.contextmanager
def aml_errors(what: str, *, operation_id: str | None = None) -> Iterator[None]:
    """Like ``azure_errors``, and azure-ai-ml's validation errors become :class:`ConfigurationError`."""
    with quiet_azure():
        try:
            with azure_errors(what, operation_id=operation_id):
                yield
        except MlopsError as error:
            from azure.ai.ml.exceptions import UserErrorException, ValidationException

            cause = error.__cause__
            if isinstance(cause, (ValidationException, UserErrorException)):
                raise ConfigurationError(f"{what}: {cause}", backend="azure", operation_id=operation_id) from cause
            raise


def guess_type(uri: str) -> str:
    """``uri_file`` for an existing local file or a path with a data file's suffix, else ``uri_folder``."""
    path = uri.split("?", 1)[0].rstrip("/")
    if "://" not in uri and Path(uri).is_file():
        return "uri_file"
    return "uri_file" if path.lower().endswith(_FILE_SUFFIXES) else "uri_folder"


def job_input(item: TrainingInput) -> Any:
    """An azure-ai-ml ``Input`` for a data input (its type guessed from the URI when not given)."""
    from azure.ai.ml import Input

    uri = str(item.uri)
    kind = item.type or guess_type(uri)
    return Input(type=kind, path=uri, mode=item.mode) if item.mode else Input(type=kind, path=uri)


def job_tags(tags: dict[str, str], lineage: Lineage, key: str | None, **ids: str) -> dict[str, str]:
    """A job's tags: the user's, the lineage (with ``ids`` added), the SDK version and the idempotency key."""
    from mlops_sdk._version import __version__

    merged = {**tags, **lineage.with_inputs(**ids).to_tags(), "mlops.sdk_version": __version__}
    if key:
        merged["mlops.idempotency_key"] = key
    return merged


class AmlJobs:
    """Jobs of one kind (``noun``: "job", "pipeline job") in the workspace, called through the retry policy.

    Args:
        backend: The Azure backend (retry policy, HTTP settings).
        ml: Returns the shared ``MLClient``.
        noun: How errors and logs name these jobs.
    """

    def __init__(self, backend: AzureBackend, ml: Callable[[], Any], *, noun: str) -> None:
        self._backend = backend
        self._ml = ml
        self._noun = noun

    def get(self, name: str) -> Any:
        """``GET {ws}/jobs/{name}``; ``ResourceNotFoundError`` when it does not exist."""

        def get() -> Any:
            with aml_errors(f"reading Azure ML {self._noun} {name}", operation_id=name):
                return self._ml().jobs.get(name)

        return self._backend.retry_policy.call(get)

    def status(self, name: str) -> tuple[Any, str, Status]:
        """The job, its native status (``Unknown`` when it reports none) and that status mapped."""
        job = self.get(name)
        native = job.status or "Unknown"
        return job, native, status_from_aml(native)

    def find(self, name: str) -> Any | None:
        """The job, or None when it does not exist."""
        try:
            return self.get(name)
        except ResourceNotFoundError as error:
            if missing_target(error):
                raise
            return None

    def create(
        self,
        key: str | None,
        build: Callable[[str, Path], Any],
        *,
        prefix: str,
        guard: Callable[[str], AbstractContextManager[None]] | None = None,
    ) -> str:
        """Create the job ``build(name, staging folder)`` returns, or re-attach to the job ``key`` names.

        The name derives from ``key`` (random, starting with ``prefix``, without one). It is looked up
        first and before every retry of the create, so an attempt whose answer was lost is not repeated.
        ``guard(name)`` wraps the create (translating more errors). Returns the job name.
        """
        name = job_name_for_key(key) if key else f"{prefix}-{uuid.uuid4().hex[:12]}"
        if self.find(name) is not None:
            _log.info("Azure ML %s %s already exists for key %r; re-attaching", self._noun, name, key)
            return name
        with tempfile.TemporaryDirectory(prefix=f"{prefix}-") as staging:
            entity = build(name, Path(staging))
            first = True

            def create() -> None:
                nonlocal first
                if not first and self.find(name) is not None:
                    return  # the earlier attempt did create it; its answer was lost
                first = False
                # The code upload's blob clients are built inside azure-ai-ml: the shim hands them our settings
                # and a short storage retry per blob; past it, this whole create is retried by our policy.
                with (
                    guard(name) if guard is not None else contextlib.nullcontext(),
                    aml_errors(f"creating Azure ML {self._noun} {name}", operation_id=name),
                    storage_settings({**self._backend.http.core_kwargs(), **UPLOAD_RETRY}),
                ):
                    self._ml().jobs.create_or_update(entity)

            self._backend.retry_policy.call(create)
        return name

    def list(self, keep: Callable[[Any], bool], limit: int) -> list[Any]:
        """The most recent jobs ``keep`` accepts, at most ``limit``."""
        jobs = []
        with aml_errors("listing Azure ML jobs"):
            for job in self._ml().jobs.list():
                if not keep(job):
                    continue
                jobs.append(job)
                if len(jobs) >= limit:
                    break
        return jobs

    def cancel(self, name: str) -> None:
        """``POST {ws}/jobs/{name}/cancel`` (not waited for)."""
        with aml_errors(f"canceling Azure ML {self._noun} {name}", operation_id=name):
            self._ml().jobs.begin_cancel(name)

    def run_error(self, name: str, *, noun: str) -> tuple[str | None, MlopsError | None]:
        """A failed run's run-history error as ``code: message``, or why it could not be read.

        Returns ``(text, None)``, ``(None, None)`` when the run history holds no error, or
        ``(None, error)`` when reading it failed (``noun`` names the run in that error).
        """
        try:
            with aml_errors(f"reading the error of Azure ML {noun} {name}", operation_id=name):
                details = run_details(self._ml(), name)
        except MlopsError as error:
            return None, error
        root = getattr(getattr(details, "error", None), "error", None)
        if root is None:
            return None, None
        code = f"{root.code}: " if getattr(root, "code", None) else ""
        return f"{code}{root.message}", None


def created_at(job: Any) -> Any:
    """When the job was created (from its ``creation_context``), or None."""
    return getattr(getattr(job, "creation_context", None), "created_at", None)


def string_tags(job: Any) -> dict[str, str]:
    """The job's tags as strings."""
    return {str(k): str(v) for k, v in (job.tags or {}).items()}
