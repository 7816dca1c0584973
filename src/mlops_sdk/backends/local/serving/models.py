"""Loading MLflow models for serving: a fast path for scikit-learn, pyfunc for everything else.

``mlflow models serve`` spends ~1.5 ms per request in pandas parsing and pyfunc schema enforcement,
while the estimator itself needs ~0.07 ms (measured; see benchmarks/). For a model whose ``sklearn`` flavor and
numeric signature we understand, :class:`SklearnModel` loads the estimator the way
``mlflow.sklearn.load_model`` does (without importing MLflow) and feeds it a float64 numpy matrix
built in the signature's column order, after :mod:`.schema` checked the input against the
signature (the columns, every cell's type, naming the row and column at fault). Any other model
(other flavors, string columns, custom pyfunc) is served by :class:`PyfuncModel` through
``mlflow.pyfunc``: :mod:`.schema` checks what it knows first, then MLflow's own schema enforcement.

Importing scikit-learn (and skops) takes over a second, most of a first deployment's load. The
server therefore calls :func:`start_preload` once it serves: a background thread imports the fast
path's modules (at a lower CPU priority on Linux, so it takes idle CPU rather than slowing the
training running next to it), and :func:`load_served_model` waits for it instead of importing the
same modules from a second thread.

A plain linear regressor needs scikit-learn only to be loaded: it is scored as ``X @ coef + intercept``.
With a ``kernel_cache`` folder (the endpoint server passes ``<endpoint>/kernels``), such a model's
kernel is written there when it is loaded, and a later load of the same, unchanged files is a
:class:`LinearKernelModel` built from that file (:mod:`.kernels`): no scikit-learn import and no
wait for the preload, so a restarted server answers in well under a second.
"""

from __future__ import annotations

import abc
import contextlib
import gc
import json
import os
import pickle
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_sdk.backends.local._warm import import_modules
from mlops_sdk.backends.local.serving.kernels import CachedKernel, fingerprint, read_kernel, write_kernel
from mlops_sdk.backends.local.serving.payloads import Batch, PayloadError, to_jsonable
from mlops_sdk.backends.local.serving.schema import align, check_cells, infer_csv, plain_numbers
from mlops_sdk.core.logging import get_logger

__all__ = [
    "PRELOAD_MODULES",
    "LinearKernelModel",
    "ModelLoadError",
    "PyfuncModel",
    "ServedModel",
    "SklearnModel",
    "load_served_model",
    "start_preload",
]

# What the scikit-learn fast path imports (it reads MLmodel itself, without MLflow); other models
# import MLflow's pyfunc when they are loaded.
PRELOAD_MODULES = ("sklearn.base", "skops.io")
_preloaded = threading.Event()
_preloaded.set()  # nothing to wait for until start_preload() runs

_NUMERIC = frozenset({"double", "float", "long", "integer", "boolean"})
_log = get_logger("mlops_sdk.serving")


class ModelLoadError(Exception):
    """The model directory cannot be served; the message says why."""


@dataclass
class ServedModel(abc.ABC):
    """A loaded model that scores a :class:`Batch` and returns JSON-ready predictions.

    Attributes:
        path: The MLflow model directory.
        flavor: ``"sklearn"`` (fast path) or ``"pyfunc"``.
        columns: Input column names from the signature (or the estimator), if known.
    """

    path: Path
    flavor: str
    columns: list[str] | None = field(default=None)

    @property
    def inline(self) -> bool:
        """True when predictions are cheap enough to compute on the event loop."""
        return False

    @abc.abstractmethod
    def predict(self, batch: Batch) -> Any:
        """Score ``batch``.

        Raises:
            PayloadError: the input does not fit the model (missing columns, wrong types or shape).
        """

    def predict_raw(self, batch: Batch) -> Any:
        """Like :meth:`predict`, but may return a numpy array (the server serializes it without a copy)."""
        return self.predict(batch)

    def describe(self) -> dict[str, Any]:
        """What the admin API reports about this model."""
        return {"flavor": self.flavor, "columns": self.columns, "fast_path": self.flavor == "sklearn"}


class _NumericModel(ServedModel):
    """The scikit-learn fast path's input handling: the signature's checks, then a float64 matrix in
    signature order (shared by the estimator and by a linear model scored from its cached kernel)."""

    def __init__(self, path: Path, columns: list[str] | None, types: list[str] | None, width: int | None) -> None:
        super().__init__(path=path, flavor="sklearn", columns=columns)
        import numpy

        self._np = numpy
        self._width = width
        self._types: list[str | None] = list(types) if types else ["double"] * (width or 0)
        self._integer_columns = [index for index, kind in enumerate(self._types) if kind in ("long", "integer")]

    @property
    def inline(self) -> bool:
        """Predictions on small batches take microseconds: run them on the event loop."""
        return True

    def _cell_types(self, width: int) -> list[str | None]:
        return self._types if len(self._types) == width else ["double"] * width

    def _matrix(self, batch: Batch) -> tuple[Any, list[str] | None]:
        np = self._np
        rows, names = align(batch, self.columns)
        width = len(rows[0])
        if self._width is not None and width != self._width:
            raise PayloadError(f"each row must have {self._width} values; row 0 has {width}")
        types = self._cell_types(width)
        if batch.csv or not plain_numbers(rows):
            rows = check_cells(rows, names, types, csv=batch.csv)
        try:
            matrix = np.asarray(rows, dtype=np.float64)
        except (TypeError, ValueError, OverflowError) as error:
            check_cells(rows, names, types, csv=False)  # names the cell at fault
            raise PayloadError(f"the input values must be numbers ({_first_line(error)})") from None
        if self._integer_columns:
            integers = matrix[:, self._integer_columns]
            if (
                not np.all(np.isfinite(integers))
                or np.any(np.mod(integers, 1) != 0)
                or np.any(np.abs(integers) > 2**31)
            ):
                check_cells(rows, names, types, csv=False)  # names the cell at fault
        return matrix, names

    def predict(self, batch: Batch) -> Any:
        """Build the numpy matrix in signature order and score it."""
        output = self.predict_raw(batch)
        return output.tolist() if hasattr(output, "tolist") else to_jsonable(output)

    def _non_finite(self, matrix: Any, names: list[str] | None) -> str | None:
        """``row R, column C: a missing value (NaN)`` (or an infinite number) for the first such cell, else None."""
        np = self._np
        bad = np.argwhere(~np.isfinite(matrix))
        if not len(bad):
            return None
        row, column = (int(item) for item in bad[0])
        name = f"column {names[column]!r}" if names else f"column {column}"
        what = "a missing value (NaN)" if np.isnan(matrix[row, column]) else "an infinite number"
        return f"row {row}, {name}: {what}, which the model does not take"


class SklearnModel(_NumericModel):
    """A scikit-learn estimator with a numeric (or absent) signature, scored with numpy directly."""

    def __init__(self, path: Path, estimator: Any, columns: list[str] | None, types: list[str] | None) -> None:
        width: int | None = len(columns) if columns else getattr(estimator, "n_features_in_", None)
        super().__init__(path, columns, types, width)
        self._estimator = estimator
        self._predict = estimator.predict
        self._linear = _linear_kernel(estimator, self._width)

    def predict_raw(self, batch: Batch) -> Any:
        """The estimator's output as numpy; linear models are evaluated from their coefficients.

        scikit-learn's ``predict`` re-validates its input on every call (types, finiteness,
        feature names), which costs far more than a small batch's arithmetic. The server has
        checked the input against the signature already, so for a plain linear regressor (see
        :func:`_linear_kernel`) it computes ``X @ coef_.T + intercept_`` itself; a matrix with a
        missing or infinite cell still goes to the estimator, whose error names the cell.
        """
        matrix, names = self._matrix(batch)
        linear = self._linear
        if linear is not None and self._np.isfinite(matrix).all():
            return matrix @ linear[0] + linear[1]
        try:
            return self._predict(matrix)
        except (ValueError, TypeError, IndexError) as error:
            raise PayloadError(self._rejected(matrix, names, error)) from None

    def describe(self) -> dict[str, Any]:
        """What the admin API reports; ``kernel`` is ``"linear"`` for a model scored from its coefficients."""
        return {**super().describe(), "kernel": "linear" if self._linear is not None else None}

    def _rejected(self, matrix: Any, names: list[str] | None, error: BaseException) -> str:
        """Why the estimator refused the input, naming the first missing or infinite cell if there is one."""
        where = self._non_finite(matrix, names)
        if where is not None:
            return f"{where} ({_first_line(error)})"
        return f"the model rejected the input: {_first_line(error)}"


class LinearKernelModel(_NumericModel):
    """A linear regressor scored from its cached kernel (:mod:`.kernels`), without scikit-learn.

    It answers what :class:`SklearnModel` answers for the same model, computed the same way
    (``matrix @ coef + intercept`` on the same arrays), after the same input checks. A missing or
    infinite cell is refused naming the row and column, as scikit-learn's linear models refuse it.
    """

    def __init__(self, path: Path, kernel: CachedKernel) -> None:
        super().__init__(path, kernel.columns, kernel.types, kernel.width)
        self._coef = kernel.coef
        self._intercept = kernel.intercept

    def predict_raw(self, batch: Batch) -> Any:
        """``matrix @ coef + intercept`` on the checked float64 matrix."""
        matrix, names = self._matrix(batch)
        if self._np.isfinite(matrix).all():
            return matrix @ self._coef + self._intercept
        where = self._non_finite(matrix, names)
        raise PayloadError(f"{where} (linear models take no missing or infinite values)")

    def describe(self) -> dict[str, Any]:
        """What the admin API reports; ``kernel`` is ``"cached"`` (scored from the kernel cache)."""
        return {**super().describe(), "kernel": "cached"}


class PyfuncModel(ServedModel):
    """Any MLflow model, scored through ``mlflow.pyfunc`` with MLflow's schema enforcement."""

    def __init__(
        self,
        path: Path,
        model: Any,
        columns: list[str] | None,
        types: list[str] | None = None,
        optional: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(path=path, flavor="pyfunc", columns=columns)
        self._model = model
        self._types = dict(zip(columns or [], types or [], strict=False))
        self._optional = optional
        # JSON numbers without a fraction arrive as int64; the signature decides (as MLflow's server does).
        self._floats = [name for name, kind in self._types.items() if kind in ("double", "float")]

    def predict(self, batch: Batch) -> Any:
        """Build a pandas DataFrame (or array for tensor input) and call ``pyfunc.predict``."""
        import pandas as pd
        from mlflow.exceptions import MlflowException

        rows, columns = align(batch, self.columns, optional=self._optional)
        if columns is not None and self._types:
            rows = check_cells(rows, columns, [self._types.get(name) for name in columns], csv=batch.csv)
        elif batch.csv:
            rows = infer_csv(rows)
        try:
            data: Any = pd.DataFrame(rows, columns=columns) if columns is not None else pd.DataFrame(rows)
            for name in self._floats:
                if name in data.columns and data[name].dtype.kind in "iu":
                    data[name] = data[name].astype("float64")
        except (TypeError, ValueError, OverflowError) as error:
            raise PayloadError(f"the input cannot form a table: {_first_line(error)}") from None
        try:
            params = {"params": batch.params} if batch.params else {}
            output = self._model.predict(data, **params)
        except MlflowException as error:
            raise PayloadError(f"the model rejected the input: {_first_line(error)}") from None
        except (ValueError, TypeError, KeyError, IndexError) as error:
            raise PayloadError(f"the model rejected the input: {_first_line(error)}") from None
        return to_jsonable(output)


def _linear_kernel(estimator: Any, width: int | None) -> tuple[Any, Any] | None:
    """``(coef_.T, intercept_)`` of a scikit-learn linear regressor (``LinearRegression``, ``Ridge``,
    ``Lasso``, ...) with the library's own decision function, whose ``predict`` gives exactly
    ``X @ coef_.T + intercept_`` on a probe (so a subclass that changes the answer is left alone); else None."""
    try:
        from sklearn.base import RegressorMixin
        from sklearn.linear_model._base import LinearModel
    except ImportError:
        return None
    kind = type(estimator)
    if (
        not isinstance(estimator, LinearModel)
        or not isinstance(estimator, RegressorMixin)
        or kind._decision_function is not LinearModel._decision_function
        or width is None
    ):
        return None
    import numpy as np

    try:
        coef = np.ascontiguousarray(np.asarray(estimator.coef_, dtype=np.float64).T)
        intercept = np.asarray(estimator.intercept_, dtype=np.float64)
        probe = np.random.default_rng(0).normal(size=(4, width))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = np.asarray(estimator.predict(probe), dtype=np.float64)
        if coef.shape[0] != width or not np.allclose(probe @ coef + intercept, expected, rtol=1e-9, atol=1e-9):
            return None
    except Exception:  # any surprise: keep the estimator's own predict
        return None
    return coef, intercept


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__


def _signature_columns(
    path: Path,
) -> tuple[dict[str, Any], list[str] | None, list[str] | None, frozenset[str]]:
    """Read ``MLmodel``: (flavors, input names, input type names, optional columns).

    Names and types are ``None`` when unknown.

    Plain YAML + JSON, as MLflow writes them (``signature.inputs`` is a JSON list of column specs),
    so the scikit-learn fast path never imports MLflow. A tensor signature or unnamed columns
    give ``(flavors, None, ["tensor"])``.
    """
    import yaml

    try:
        meta = yaml.safe_load((path / "MLmodel").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ModelLoadError(f"{path} is not an MLflow model directory ({_first_line(error)})") from error
    flavors = meta.get("flavors") if isinstance(meta, dict) else None
    if not isinstance(flavors, dict) or not flavors:
        raise ModelLoadError(f"{path}/MLmodel names no flavors; write the model with mlflow.<flavor>.save_model")
    signature = meta.get("signature")
    raw = signature.get("inputs") if isinstance(signature, dict) else None
    if not raw:
        return flavors, None, None, frozenset()
    try:
        inputs = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as error:
        raise ModelLoadError(f"{path}/MLmodel has an unreadable signature ({_first_line(error)})") from error
    if not isinstance(inputs, list) or not all(isinstance(item, dict) for item in inputs):
        raise ModelLoadError(f"{path}/MLmodel has an unreadable signature (inputs are not a list of columns)")
    if any(item.get("type") == "tensor" for item in inputs) or not all(item.get("name") for item in inputs):
        return flavors, None, ["tensor"], frozenset()
    optional = frozenset(str(item["name"]) for item in inputs if item.get("required") is False)
    return flavors, [str(item["name"]) for item in inputs], [str(item.get("type")) for item in inputs], optional


def _load_estimator(folder: Path, conf: dict[str, Any]) -> Any:
    """The estimator of an ``sklearn`` flavor, loaded as ``mlflow.sklearn.load_model`` loads it.

    The usual cases (skops, pickle or cloudpickle file, no model code) are read directly, honouring
    MLflow's ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION`` switch; anything else goes through MLflow.
    """
    serialization = conf.get("serialization_format", "pickle")
    if conf.get("code") or serialization not in ("skops", "pickle", "cloudpickle") or not conf.get("pickled_model"):
        import mlflow.sklearn

        return mlflow.sklearn.load_model(str(folder))
    if not _pickle_allowed():
        raise ModelLoadError(
            "MLFLOW_ALLOW_PICKLE_DESERIALIZATION is not 'true', so MLflow models may not be deserialized here; "
            "set it to 'true' for models from trusted sources"
        )
    file = folder / str(conf["pickled_model"])
    if serialization == "skops":
        import skops.io

        return skops.io.load(file, trusted=conf.get("skops_trusted_types"))
    with file.open("rb") as handle:
        if serialization == "cloudpickle":
            import cloudpickle

            return cloudpickle.load(handle)
        return pickle.load(handle)  # noqa: S301 - MLflow's own format; gated by MLflow's switch above


_AUTOGROUP = Path("/proc/self/autogroup")


def _set_autogroup_nice(niceness: int) -> None:
    """Linux schedules each session (the server has its own) as one group: set that group's niceness.

    Raising it needs no privilege and going back down to 0 neither, unlike a thread's niceness.
    Anywhere else this does nothing.
    """
    with contextlib.suppress(OSError):
        _AUTOGROUP.write_text(str(niceness), encoding="ascii")


def _preload(modules: tuple[str, ...]) -> None:
    started = time.perf_counter()
    try:
        loaded = import_modules(modules)  # with the collector paused
        get_logger("mlops_sdk.serving").info(
            "preloaded %s in %.1fs", ", ".join(loaded) or "nothing", time.perf_counter() - started
        )
    finally:
        gc.freeze()  # what the imports created lives as long as the server: never scanned again
        _preloaded.set()
        _set_autogroup_nice(0)


def start_preload(modules: tuple[str, ...] = PRELOAD_MODULES, *, niceness: int = 19) -> threading.Thread:
    """Import ``modules`` in a background daemon thread; :func:`load_served_model` waits for it.

    Modules that are not installed or fail to import are skipped (a load then reports the error).
    On Linux the server runs at ``niceness`` while it preloads (idle CPU first: the user's training
    usually runs next to it) and at normal priority again once done, or as soon as a model load
    has to wait for it.
    """
    if niceness:
        _set_autogroup_nice(niceness)
    _preloaded.clear()
    thread = threading.Thread(target=_preload, args=(modules,), name="mlops-preload", daemon=True)
    thread.start()
    return thread


def load_served_model(path: str | Path, *, fast_path: bool = True, kernel_cache: Path | None = None) -> ServedModel:
    """Load the MLflow model at ``path`` with the fastest loader that keeps MLflow's semantics.

    Args:
        path: An MLflow model directory (with ``MLmodel``).
        fast_path: Allow the scikit-learn fast path (False forces pyfunc).
        kernel_cache: A folder for the kernels of linear models (:mod:`.kernels`). A model with a
            cached kernel for exactly its current files is served from it, without importing
            scikit-learn and without waiting for :func:`start_preload`; a linear model loaded from
            its files has its kernel written there. ``None``: no cache.

    Raises:
        ModelLoadError: the directory is not a loadable MLflow model.
    """
    folder = Path(path)
    if not (folder / "MLmodel").is_file():
        raise ModelLoadError(f"{folder} has no MLmodel file; point to an MLflow model directory")
    if fast_path and kernel_cache is not None and _pickle_allowed():
        kernel = read_kernel(kernel_cache, folder)
        if kernel is not None:
            return LinearKernelModel(folder, kernel)
    if not _preloaded.is_set():
        _set_autogroup_nice(0)  # somebody waits now: full priority
        _preloaded.wait()
    flavors, names, types, optional = _signature_columns(folder)
    numeric = types is None or all(kind in _NUMERIC for kind in types)
    if fast_path and isinstance(flavors.get("sklearn"), dict) and numeric and types != ["tensor"] and not optional:
        conf = flavors["sklearn"]
        cacheable = _cacheable_files(folder, conf) if kernel_cache is not None else None
        try:
            estimator = _load_estimator(folder, conf)
        except ModelLoadError:
            raise
        except Exception as error:
            raise ModelLoadError(f"cannot load the scikit-learn model in {folder}: {_first_line(error)}") from error
        if callable(getattr(estimator, "predict", None)):
            feature_names = getattr(estimator, "feature_names_in_", None)
            columns = names or ([str(name) for name in feature_names] if feature_names is not None else None)
            # The estimator was fitted on a DataFrame; numpy input is what we feed on purpose.
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            model = SklearnModel(folder, estimator, columns, types)
            if kernel_cache is not None and cacheable is not None:
                _cache_kernel(kernel_cache, model, types, cacheable)
            return model
    import mlflow.pyfunc

    try:
        model = mlflow.pyfunc.load_model(str(folder))
    except Exception as error:
        raise ModelLoadError(f"cannot load the MLflow model in {folder}: {_first_line(error)}") from error
    return PyfuncModel(folder, model, names, types, optional)


def _pickle_allowed() -> bool:
    """MLflow's ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION`` switch (on unless set to something else than true/1)."""
    return os.environ.get("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true").strip().lower() in ("true", "1")


def _cacheable_files(folder: Path, conf: dict[str, Any]) -> tuple[str, list[tuple[int, int, int]]] | None:
    """The estimator file and the identity (inode, size, mtime) of it and ``MLmodel`` before the load,
    when a kernel of this model may be cached: an estimator file read directly, no bundled code."""
    name = conf.get("pickled_model")
    if (
        conf.get("code")
        or conf.get("serialization_format", "pickle") not in ("skops", "pickle", "cloudpickle")
        or not isinstance(name, str)
        or Path(name).name != name
    ):
        return None
    try:
        return name, _identities(folder, name)
    except OSError:
        return None


def _identities(folder: Path, name: str) -> list[tuple[int, int, int]]:
    stats = [(folder / item).stat() for item in ("MLmodel", name)]
    return [(item.st_ino, item.st_size, item.st_mtime_ns) for item in stats]


def _cache_kernel(
    cache_dir: Path, model: SklearnModel, types: list[str] | None, files: tuple[str, list[tuple[int, int, int]]]
) -> None:
    """Write the kernel of a linear ``model`` (nothing for other models); a failure only costs the next start.

    The fingerprint is taken after the load; the files' identities before and after must agree, so
    a model replaced while it was loading is not cached under the new files' fingerprint.
    """
    linear = model._linear
    if linear is None or model._width is None:
        return
    name, before = files
    try:
        hashes = fingerprint(model.path, name)
        if _identities(model.path, name) != before:
            _log.info("%s changed while it was loading: its kernel is not cached", model.path)
            return
        kernel = CachedKernel(linear[0], linear[1], model.columns, types, model._width, type(model._estimator).__name__)
        write_kernel(cache_dir, model.path, kernel, name, hashes)
    except (OSError, ValueError) as error:
        _log.info("the kernel of %s is not cached: %s", model.path, error)
