"""The linear-kernel cache: what a restarted endpoint server needs to score a linear model without scikit-learn.

A plain linear regressor is served as ``X @ coef + intercept`` (see ``models._linear_kernel``);
scikit-learn is only needed to load the estimator and check that kernel, and importing it is most
of a server's start-up (2-3 s of a ~3 s start). So once a model has been served through its
kernel, the server writes the kernel into the endpoint folder (``kernels/<sha256 of the model
directory's resolved path>.npz``): the coefficients, the intercept, the signature's columns and
types, a format version and a fingerprint of the model files (sha256 of ``MLmodel`` and of the
estimator file that ``MLmodel`` names). A later start of the server (a replica, a crash restart,
``mlops endpoint restart``) scores the model from that file without importing scikit-learn.

The file is trusted only when its format is this module's and the fingerprint matches the files
on disk now, so a model replaced at the same path is loaded again from its files. It is written
atomically (temporary file, fsync, ``os.replace``) and read with ``allow_pickle=False``: nothing
in it is executed. Any file that cannot be used is ignored (and replaced by the next full load).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_sdk.core.files import atomic_write
from mlops_sdk.core.logging import get_logger

__all__ = ["FORMAT", "CachedKernel", "cache_file", "fingerprint", "read_kernel", "write_kernel"]

FORMAT = 1
_KEEP = 64  # kernel files kept per endpoint (the most recently used); an older one costs a slower start
_log = get_logger("mlops_sdk.serving")


@dataclass(frozen=True)
class CachedKernel:
    """A linear model as the server scores it: ``matrix @ coef + intercept``.

    Attributes:
        coef: ``coef_.T`` as a C-contiguous float64 array, ``(width,)`` or ``(width, outputs)``.
        intercept: float64, a scalar array or ``(outputs,)``.
        columns: The input columns (signature order), if known.
        types: The signature's column types, if known.
        width: Number of input columns.
        estimator: The estimator's class name (for the admin API).
    """

    coef: Any
    intercept: Any
    columns: list[str] | None
    types: list[str] | None
    width: int
    estimator: str


def cache_file(cache_dir: Path, model_dir: Path) -> Path:
    """Where the kernel of the model in ``model_dir`` is cached."""
    key = hashlib.sha256(str(Path(model_dir).resolve()).encode("utf-8")).hexdigest()
    return cache_dir / f"{key}.npz"


def fingerprint(model_dir: Path, model_file: str) -> dict[str, str]:
    """sha256 of ``MLmodel`` and of the estimator file, keyed by file name.

    Raises:
        OSError: a file cannot be read.
    """
    return {name: _sha256(model_dir / name) for name in ("MLmodel", model_file)}


def write_kernel(
    cache_dir: Path, model_dir: Path, kernel: CachedKernel, model_file: str, files: dict[str, str]
) -> Path:
    """Write ``kernel`` for ``model_dir`` (whose files had the fingerprint ``files``); returns the file.

    Raises:
        OSError: the file cannot be written (nothing is left behind).
        ValueError: ``model_file`` is not a plain file name.
    """
    import numpy as np

    if Path(model_file).name != model_file or model_file in ("", ".", ".."):
        raise ValueError(f"the estimator file {model_file!r} is not a plain file name")
    meta = {
        "format": FORMAT,
        "model_file": model_file,
        "fingerprint": files,
        "columns": kernel.columns,
        "types": kernel.types,
        "width": kernel.width,
        "estimator": kernel.estimator,
    }
    target = cache_file(cache_dir, model_dir)
    with atomic_write(target) as temporary, temporary.open("wb") as stream:
        np.savez(stream, coef=kernel.coef, intercept=kernel.intercept, meta=np.array(json.dumps(meta)))
    _prune(cache_dir)
    return target


def read_kernel(cache_dir: Path, model_dir: Path) -> CachedKernel | None:
    """The cached kernel of ``model_dir`` when there is one for exactly its current files, else None.

    A missing file is None quietly; an unreadable, corrupt, foreign-format or outdated one is None
    with an info log line saying why (the caller loads the model from its files instead).
    """
    target = cache_file(cache_dir, model_dir)
    if not target.is_file():
        return None
    try:
        kernel = _read(target, model_dir)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as error:
        _log.info("kernel cache %s of %s is not used (%s); loading the model files", target.name, model_dir, error)
        return None
    with contextlib.suppress(OSError):
        os.utime(target)  # recently used: kept by the pruning
    return kernel


def _read(target: Path, model_dir: Path) -> CachedKernel:
    import numpy as np

    with np.load(target, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"][()]))
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format') if isinstance(meta, dict) else None!r}, not {FORMAT}")
        model_file = meta["model_file"]
        if not isinstance(model_file, str) or Path(model_file).name != model_file:
            raise ValueError("it names no plain estimator file")
        if fingerprint(model_dir, model_file) != meta["fingerprint"]:
            raise ValueError("the model files changed since it was written")
        coef, intercept = data["coef"], data["intercept"]
    width, columns, types = meta["width"], meta["columns"], meta["types"]
    if (
        not isinstance(width, int)
        or width < 1
        or coef.dtype != np.float64
        or intercept.dtype != np.float64
        or coef.ndim not in (1, 2)
        or coef.shape[0] != width
        or intercept.shape not in ((), coef.shape[1:])  # a scalar when fitted without intercept
        or not coef.flags.c_contiguous
        or not (np.isfinite(coef).all() and np.isfinite(intercept).all())
    ):
        raise ValueError("its arrays do not form a linear model")
    if columns is not None and (not _strings(columns) or len(columns) != width):
        raise ValueError("its columns do not match the coefficients")
    if types is not None and not _strings(types):
        raise ValueError("its column types are unreadable")
    return CachedKernel(coef, intercept, columns, types, width, str(meta.get("estimator", "")))


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _prune(cache_dir: Path) -> None:
    """Keep the ``_KEEP`` most recently used kernel files (models long undeployed leave theirs behind),
    and remove temporary files an hour old (a server killed while writing one)."""
    with contextlib.suppress(OSError):
        files = sorted(cache_dir.glob("*.npz"), key=lambda item: item.stat().st_mtime, reverse=True)
        for stale in files[_KEEP:]:
            stale.unlink(missing_ok=True)
        old = time.time() - 3600
        for leftover in cache_dir.glob(".*.tmp"):
            if leftover.stat().st_mtime < old:
                leftover.unlink(missing_ok=True)
