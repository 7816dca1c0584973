"""Every private azure-ai-ml name the SDK relies on, in one place.

azure-ai-ml has no public way to do these three things, so each reaches one private name; the test
``tests/azure/test_aml_shim.py`` checks each name's shape against the installed release, so an
upgrade that moves one fails there first instead of deep inside a rollout.

* :func:`run_details` - the run history's error for a failed job (``jobs._runs_operations``, the call
  ``MLClient.jobs.stream`` makes).
* :func:`storage_settings` - the HTTP configuration for the blob clients azure-ai-ml creates itself for
  code uploads (``azure.ai.ml._artifacts._blob_storage_helper``, which passes only URL and credential).
  Installed once: the two names are replaced by subclasses that add the keyword arguments of the
  *current context* and nothing otherwise, so code outside the SDK's calls behaves as before and
  concurrent calls with different settings do not see each other's.
* :func:`regenerate_endpoint_key` - ``regenerateKeys`` as the REST spec has it, through MLClient's
  generated operations (``online_endpoints._online_operation``): the public
  ``begin_regenerate_keys`` sends the *current* key as ``keyValue`` ("the value the key is set to"),
  so the key would not change.
* :func:`initial_retry_after` - the ``Retry-After`` of the answer that started a long-running
  operation (azure-core's ``_initial_response`` on the polling method; azure-core waits for it
  itself only after its first status request).
* :func:`captured_notices` - azure-ai-ml's console notices ("experimental class", "no tenant id"),
  written by the handler it installs on the ``azure.ai.ml`` logger, go to the SDK's debug log while
  the SDK's own calls run in this context; the user's calls still print them.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from mlops_sdk.core.logging import get_logger

__all__ = [
    "AML_LOGGER",
    "captured_notices",
    "initial_retry_after",
    "regenerate_endpoint_key",
    "run_details",
    "storage_settings",
]

AML_LOGGER = "azure.ai.ml"
"""The logger azure-ai-ml attaches its own console handler to (``azure/ai/ml/__init__.py``)."""

_log = get_logger(__name__)
_STORAGE_KWARGS: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "mlops_aml_storage", default=None
)
_CAPTURING: contextvars.ContextVar[bool] = contextvars.ContextVar("mlops_aml_capture", default=False)
_install_lock = threading.Lock()
_installed = False


def run_details(ml_client: Any, job_name: str) -> Any:
    """``RunDetails`` of a job from the run history service (carries ``error.error.code/message``)."""
    return ml_client.jobs._runs_operations.get_run_details(job_name)


def run_children(ml_client: Any, job_name: str) -> list[Any]:
    """The child runs of a pipeline job from the run history service (``GET .../runs/{name}/children``).

    ``jobs.list(parent_job_name=...)`` makes the same call after a ``GET`` of the parent, which a poll
    has just made: this skips it.
    """
    return list(ml_client.jobs._runs_operations.get_run_children(job_name))


def regenerate_endpoint_key(ml_client: Any, endpoint: str, key_type: str) -> Any:
    """Start ``regenerateKeys`` for ``key_type`` (``Primary``/``Secondary``) without a ``keyValue``: an LRO poller."""
    operations = ml_client.online_endpoints._online_operation  # MLClient's generated REST operations
    return operations.begin_regenerate_keys(
        resource_group_name=ml_client.resource_group_name,
        workspace_name=ml_client.workspace_name,
        endpoint_name=endpoint,
        body={"keyType": key_type},
    )


def initial_retry_after(poller: Any) -> float | None:
    """The ``Retry-After`` of the 201/202 that started a long-running operation, if the service sent one."""
    from mlops_sdk.core.retry import parse_retry_after

    method = poller.polling_method() if callable(getattr(poller, "polling_method", None)) else None
    initial = getattr(method, "_initial_response", None)
    response = getattr(initial, "http_response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    return parse_retry_after({str(key): str(value) for key, value in headers.items()})


@contextlib.contextmanager
def storage_settings(kwargs: Mapping[str, Any]) -> Iterator[None]:
    """Blob clients azure-ai-ml builds in this block get ``kwargs`` (``connection_verify``, ``proxies``, ...)."""
    _install_storage_hook()
    token = _STORAGE_KWARGS.set(dict(kwargs))
    try:
        yield
    finally:
        _STORAGE_KWARGS.reset(token)


def _install_storage_hook() -> None:
    global _installed
    with _install_lock:
        if _installed:
            return
        import azure.ai.ml._artifacts._blob_storage_helper as blob_helper

        helper: Any = blob_helper

        base_service, base_container = helper.BlobServiceClient, helper.ContainerClient

        class BlobServiceClient(base_service):  # type: ignore[misc,valid-type]
            def __init__(self, account_url: str, credential: Any = None, **kwargs: Any) -> None:
                super().__init__(account_url, credential=credential, **{**(_STORAGE_KWARGS.get() or {}), **kwargs})

        class ContainerClient(base_container):  # type: ignore[misc,valid-type]
            def __init__(self, account_url: str, container_name: str, credential: Any = None, **kwargs: Any) -> None:
                self._mlops_managed = _STORAGE_KWARGS.get() is not None
                merged = {**(_STORAGE_KWARGS.get() or {}), **kwargs}
                super().__init__(account_url, container_name, credential=credential, **merged)

            def upload_blob(self, name: Any, data: Any, *args: Any, **kwargs: Any) -> Any:
                # A retried PUT whose first answer was lost finds its own blob: without overwrite it would get
                # 409 BlobAlreadyExists. Code assets are content-addressed, so overwriting writes the same bytes.
                if getattr(self, "_mlops_managed", False):
                    kwargs["overwrite"] = True
                return super().upload_blob(name, data, *args, **kwargs)

        helper.BlobServiceClient, helper.ContainerClient = BlobServiceClient, ContainerClient
        _raise_failed_uploads(helper)
        _installed = True


_UPLOAD_ERROR = "_mlops_upload_error"


def _raise_failed_uploads(helper: Any) -> None:
    """Make a failed file of a directory upload fail the upload instead of hanging it forever.

    With ``show_progress=False`` azure-ai-ml's ``upload_directory`` never reads its workers' results, and
    ``BlobStorageClient.upload`` then waits ``while uploaded_file_count < total_file_count`` - forever,
    since a failed file is never counted. The worker's error is kept on the storage client and raised by
    that count, so the upload fails (without its completion marker) and the caller may retry it.
    """
    import azure.ai.ml._utils._asset_utils as asset_utils

    utils: Any = asset_utils
    upload_file = utils.upload_file

    def upload_file_recording_failures(*args: Any, **kwargs: Any) -> Any:
        try:
            return upload_file(*args, **kwargs)
        except BaseException as error:
            storage_client = kwargs.get("storage_client", args[0] if args else None)
            if storage_client is not None and getattr(storage_client, _UPLOAD_ERROR, None) is None:
                setattr(storage_client, _UPLOAD_ERROR, error)
            raise

    def get_count(self: Any) -> int:
        error = self.__dict__.get(_UPLOAD_ERROR)
        if error is not None:
            raise error
        return int(self.__dict__.get("_mlops_uploaded", 0))

    def set_count(self: Any, value: int) -> None:
        self.__dict__["_mlops_uploaded"] = value

    utils.upload_file = upload_file_recording_failures
    helper.BlobStorageClient.uploaded_file_count = property(get_count, set_count)


class _ToDebugLog(logging.Filter):
    """Drops azure-ai-ml console records raised inside :func:`captured_notices`, logging them at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Only azure-ai-ml's own records: ours may reach the same handler when logging is configured broadly.
        if not _CAPTURING.get() or not record.name.startswith(AML_LOGGER):
            return True
        _log.debug("azure-ai-ml: %s", record.getMessage().strip())
        return False


_FILTER = _ToDebugLog()


@contextlib.contextmanager
def captured_notices() -> Iterator[None]:
    """Keep azure-ai-ml's console notices from this context off the terminal (they go to the debug log)."""
    handlers = logging.getLogger(AML_LOGGER).handlers
    for handler in handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
    token = _CAPTURING.set(True)
    try:
        yield
    finally:
        _CAPTURING.reset(token)
