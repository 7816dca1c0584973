"""The embedded MLflow store of the local backend: tracking and registry in ``<folder>/mlflow.db``.

Artifacts go to ``<folder>/artifacts/<experiment>/``. MLflow is imported on first use only (it costs
about a second), and one :class:`MlflowClient` is shared per store.

A new ``mlflow.db`` is built in scratch space (tmpfs when the machine has one) and linked into the
store complete: MLflow's schema migrations commit about a thousand times, each commit a disk sync
that makes the creation crawl while other processes keep the CPUs busy, and a process killed half
way would otherwise leave a half-migrated database behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlops_sdk.backends.local._warm import paused_gc
from mlops_sdk.core.errors import ConfigurationError, MlopsError, ResourceExistsError, ResourceNotFoundError

__all__ = ["MlflowStore", "mlflow_errors", "mlflow_store", "quiet"]

_STORES: dict[Path, MlflowStore] = {}
_STORES_LOCK = threading.Lock()


class MlflowStore:
    """Access to the local MLflow tracking + registry database.

    Args:
        folder: The local backend's store folder.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.db_path = folder / "mlflow.db"
        self.artifacts = folder / "artifacts"
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def uri(self) -> str:
        """``sqlite:///<folder>/mlflow.db``: tracking and registry URI of the store."""
        return f"sqlite:///{self.db_path}"

    @property
    def client(self) -> Any:
        """The shared ``mlflow.MlflowClient`` (imports MLflow on first use)."""
        with self._lock:
            if self._client is None:
                from mlops_sdk.backends.base import require_modules

                require_modules(
                    ("mlflow",), extra="local", purpose="training and the model registry on the local backend"
                )
                self.folder.mkdir(parents=True, exist_ok=True)
                with paused_gc():
                    from mlflow import MlflowClient

                    self._client = self._open(MlflowClient)
            return self._client

    def _open(self, client_class: Any) -> Any:
        """A client of ``mlflow.db`` (built first when missing); an unreadable file is a ConfigurationError."""
        try:
            with quiet(), _quiet_logger("mlflow.store.db.utils"):
                if not self.db_path.exists():
                    self._create_database()
                client = client_class(tracking_uri=self.uri, registry_uri=self.uri)
                # Migrate an older database now, without MLflow's INFO lines about it on stderr.
                client.search_experiments(max_results=1)
        except MlopsError:
            raise
        except Exception as error:
            first = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
            raise ConfigurationError(
                f"cannot open the store's MLflow database {self.db_path}: {first}. If it is not an "
                "MLflow database written by this MLflow version or older, move it away (a new one is "
                "created) or point the target at another folder",
                backend="local",
                details={"path": str(self.db_path)},
            ) from error
        return client

    def _create_database(self) -> None:
        """Build ``mlflow.db`` with MLflow's schema in scratch space, then link it into the store.

        ``os.link`` never replaces a database another process created meanwhile: theirs is kept.
        The ``Default`` experiment's artifacts go to ``<folder>/artifacts/Default`` (MLflow's own
        default would be ``./mlruns`` under whatever the working directory was).
        """
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        self.folder.mkdir(parents=True, exist_ok=True)
        shm = Path("/dev/shm")  # noqa: S108 - a private TemporaryDirectory inside it, not a fixed file
        scratch_root = shm if shm.is_dir() and os.access(shm, os.W_OK) else self.folder
        _remove_stale_scratch(scratch_root)
        with tempfile.TemporaryDirectory(prefix=_SCRATCH_PREFIX, dir=scratch_root) as scratch:
            built = Path(scratch) / "mlflow.db"
            store = SqlAlchemyStore(  # type: ignore[no-untyped-call]
                f"sqlite:///{built}", (self.artifacts / "Default").resolve().as_uri()
            )
            store.engine.dispose()
            staged = self.folder / f".mlflow.db.{uuid.uuid4().hex}.tmp"
            try:
                shutil.copyfile(built, staged)
                with staged.open("rb+") as handle:
                    os.fsync(handle.fileno())
                try:
                    os.link(staged, self.db_path)
                except FileExistsError:
                    pass  # another process created it first: theirs is kept, ours discarded below
                except OSError:  # a file system without hard links
                    if not self.db_path.exists():
                        staged.replace(self.db_path)
            finally:
                staged.unlink(missing_ok=True)

    def experiment_id(self, name: str) -> str:
        """Id of experiment ``name``, created (with its artifact folder in the store) if missing."""
        client = self.client
        with mlflow_errors(f"opening MLflow experiment {name!r}"):
            found = client.get_experiment_by_name(name)
            if found is not None:
                return str(found.experiment_id)
            location = (self.artifacts / name).resolve().as_uri()
            try:
                return str(client.create_experiment(name, artifact_location=location))
            except MlopsError:
                raise
            except Exception as error:
                if _code(error) != "RESOURCE_ALREADY_EXISTS":
                    raise
                return str(client.get_experiment_by_name(name).experiment_id)


_SCRATCH_PREFIX = "mlops-mlflow-"
_STALE_SECONDS = 3600.0


def _remove_stale_scratch(root: Path) -> None:
    """Remove scratch folders that processes killed while creating a database left (tmpfs is memory)."""
    now = time.time()
    for folder in root.glob(f"{_SCRATCH_PREFIX}*"):
        with contextlib.suppress(OSError):
            if now - folder.stat().st_mtime > _STALE_SECONDS:
                shutil.rmtree(folder, ignore_errors=True)


def mlflow_store(folder: Path) -> MlflowStore:
    """The one :class:`MlflowStore` of ``folder`` in this process (training and models share it)."""
    key = folder.resolve()
    with _STORES_LOCK:
        if key not in _STORES:
            _STORES[key] = MlflowStore(key)
        return _STORES[key]


def _code(error: BaseException) -> str | None:
    code = getattr(error, "error_code", None)
    return str(code) if code is not None else None


@contextlib.contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    """Raise one MLflow logger to WARNING for the block (MLflow installs its own INFO handler)."""
    logger = logging.getLogger(name)
    previous = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(previous)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence MLflow's own deprecation / future warnings inside SDK calls (user state untouched)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        warnings.simplefilter("ignore", category=DeprecationWarning)
        yield


_UNREADABLE_DB = re.compile(r"file is not a database|database disk image is malformed")


@contextlib.contextmanager
def mlflow_errors(what: str, *, operation_id: str | None = None) -> Iterator[None]:
    """Translate ``MlflowException`` raised in the block into the SDK's error tree."""
    try:
        with quiet():
            yield
    except MlopsError:
        raise
    except Exception as error:
        code = _code(error)
        if code is None:
            raise
        message = getattr(error, "message", None) or str(error)
        if code == "RESOURCE_DOES_NOT_EXIST" or (code == "INVALID_PARAMETER_VALUE" and "not found" in message):
            raise ResourceNotFoundError(f"{what}: {message}", backend="local", operation_id=operation_id) from error
        if code == "RESOURCE_ALREADY_EXISTS":
            raise ResourceExistsError(f"{what}: {message}", backend="local", operation_id=operation_id) from error
        if code == "INVALID_PARAMETER_VALUE":
            raise ConfigurationError(f"{what}: {message}", backend="local", operation_id=operation_id) from error
        unreadable = _UNREADABLE_DB.search(message)
        if unreadable:  # MLflow's own store (mlflow.db) overwritten or damaged
            raise ConfigurationError(
                f"{what}: the MLflow store of this target is not readable ({unreadable[0]}): "
                "it was overwritten or damaged. Move mlflow.db (and its -wal/-shm files) out of the store folder "
                "to start an empty registry there, or point the target at another folder",
                backend="local",
                operation_id=operation_id,
                details={"field": "target"},
            ) from error
        raise MlopsError(f"{what}: {code}: {message}", backend="local", operation_id=operation_id) from error
