"""What a check sees: the candidate, the champion, the pinned evaluation data, loaded models, scores.

The context loads each model once, predicts on the evaluation data once per model and caches metric
values, so several checks on the same metric cost one prediction pass. Every dataset it loads is
recorded in :attr:`CheckContext.data_versions`, which goes into the report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from mlops_sdk.checks.data import DataFetcher, Dataset, load_dataset
from mlops_sdk.checks.metrics import Metric, get_metric
from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.models.registry import ModelVersion

__all__ = ["CheckContext", "LoadedModel"]


@runtime_checkable
class LoadedModel(Protocol):
    """A model ready to predict (an MLflow pyfunc model behind the backends)."""

    @property
    def input_columns(self) -> list[str] | None:
        """Input column names from the model's signature, if it has one."""
        ...

    def predict(self, frame: Any) -> Any:
        """Predictions for the rows of ``frame`` (a pandas ``DataFrame``) as a 1-D numpy array."""
        ...


ModelLoader = Callable[[ModelVersion], LoadedModel]
MetricsReader = Callable[[ModelVersion], Mapping[str, float]]


def _columns(names: Any) -> str:
    return ", ".join(str(name) for name in names) or "(none)"


class CheckContext:
    """Everything a check may look at, loaded lazily and cached.

    Args:
        candidate: The model version under validation.
        champion: The version currently holding ``champion_alias`` (``None``: none does).
        champion_alias: The alias the champion was looked up by.
        data: The pinned evaluation data (``None`` when none was given).
        target: Label column of ``data`` (inferred from the model's signature when ``None``).
        load_model: Loads a model version (the backend downloads it if needed).
        read_training_metrics: Reads the metrics the version's training run logged.
        fetch_data: Copies remote data (a refresh output on Azure) to a local file; ``None``: local data only.
    """

    def __init__(
        self,
        *,
        candidate: ModelVersion,
        champion: ModelVersion | None,
        champion_alias: str,
        data: Dataset | None,
        target: str | None,
        load_model: ModelLoader,
        read_training_metrics: MetricsReader,
        fetch_data: DataFetcher | None = None,
    ) -> None:
        self.candidate = candidate
        self.champion = champion
        self.champion_alias = champion_alias
        self.data = data
        self._target = target
        self._load_model = load_model
        self._read_training_metrics = read_training_metrics
        self.fetch_data = fetch_data
        self._models: dict[str, LoadedModel] = {}
        self._predictions: dict[str, Any] = {}
        self._training: dict[str, dict[str, float]] = {}
        self.scores: dict[str, dict[str, float]] = {}
        """Metric values computed on the evaluation data, by model ref then metric name."""
        self.cache: dict[str, Any] = {}
        """Free space for checks to memoise what they load (keys: ``"<CheckType>:<what>"``)."""
        self.data_versions: dict[str, str] = {"evaluation": data.version} if data is not None else {}
        """Every dataset used, by role (``evaluation``, ``reference``, ...)."""

    # -- models ------------------------------------------------------------------------------------

    def model(self, version: ModelVersion) -> LoadedModel:
        """The loaded model of ``version`` (loaded once)."""
        if version.ref not in self._models:
            self._models[version.ref] = self._load_model(version)
        return self._models[version.ref]

    def training_metrics(self, version: ModelVersion) -> dict[str, float]:
        """Metrics logged by ``version``'s training run (empty when it has no run)."""
        if version.ref not in self._training:
            self._training[version.ref] = dict(self._read_training_metrics(version))
        return self._training[version.ref]

    # -- data --------------------------------------------------------------------------------------

    def require_data(self, purpose: str) -> Dataset:
        """The evaluation data, or a :class:`ConfigurationError` saying ``purpose`` needs ``data=``."""
        if self.data is None:
            raise ConfigurationError(
                f"{purpose} needs evaluation data: pass data= (a DataFrame, a Parquet/CSV path or a refresh output)",
                details={"field": "data"},
            )
        return self.data

    def dataset(self, role: str, data: Any) -> Dataset:
        """Load further data (e.g. a drift reference) and record its version under ``role``."""
        loaded = load_dataset(data, field=role, fetch=self.fetch_data)
        self.data_versions[role] = loaded.version
        return loaded

    @property
    def target(self) -> str:
        """The label column of the evaluation data.

        When not given, it is the one column of the data that the candidate's signature does not take.

        Raises:
            ConfigurationError: no data, the column is missing, or it cannot be inferred.
        """
        data = self.require_data("scoring metrics")
        columns = list(data.frame.columns)
        if self._target is not None:
            if self._target not in columns:
                raise ConfigurationError(
                    f"the evaluation data has no target column {self._target!r}; its columns are: {_columns(columns)}",
                    details={"field": "target", "columns": columns},
                )
            return self._target
        inputs = self.model(self.candidate).input_columns
        extra = [name for name in columns if inputs is not None and name not in inputs]
        if len(extra) != 1:
            raise ConfigurationError(
                "cannot tell which column of the evaluation data is the label"
                + (f" (candidates: {_columns(extra)})" if extra else "")
                + "; pass target='<column>'",
                details={"field": "target", "columns": columns},
            )
        self._target = extra[0]
        return self._target

    def known_target(self) -> str | None:
        """The label column when it is given or can be inferred, else ``None`` (never raises)."""
        try:
            return self.target
        except ConfigurationError:
            return None

    def require_columns(
        self, version: ModelVersion, frame: Any | None = None, *, what: str = "evaluation data"
    ) -> None:
        """Raise :class:`ConfigurationError` naming the columns ``version`` needs that ``frame`` lacks."""
        frame = self.require_data(f"scoring {version.ref}").frame if frame is None else frame
        needed = self.model(version).input_columns
        if needed is None:
            return
        missing = [name for name in needed if name not in frame.columns]
        if missing:
            raise ConfigurationError(
                f"the {what} lacks column(s) {_columns(missing)} that {version.ref} takes (from its signature); "
                f"the {what} has: {_columns(frame.columns)}",
                details={"field": "data", "missing": missing, "columns": [str(c) for c in frame.columns]},
            )

    def features(self, version: ModelVersion) -> Any:
        """The evaluation rows as ``version`` takes them (its signature's columns, in order)."""
        frame = self.require_data(f"scoring {version.ref}").frame
        self.require_columns(version)
        needed = self.model(version).input_columns
        if needed is not None:
            return frame[needed]
        return frame.drop(columns=[self.target])

    def labels(self) -> Any:
        """The target column as a numpy array."""
        return self.require_data("scoring metrics").frame[self.target].to_numpy()

    # -- scores ------------------------------------------------------------------------------------

    def predictions(self, version: ModelVersion) -> Any:
        """``version``'s predictions on the evaluation data (computed once)."""
        if version.ref not in self._predictions:
            import numpy as np

            output = np.asarray(self.model(version).predict(self.features(version)))
            if output.ndim == 2 and output.shape[1] == 1:
                output = output[:, 0]
            self._predictions[version.ref] = output
        return self._predictions[version.ref]

    def score(self, version: ModelVersion, metric: str | Metric) -> float:
        """``metric`` of ``version`` on the evaluation data (cached, and recorded in :attr:`scores`)."""
        resolved = get_metric(metric)
        scores = self.scores.setdefault(version.ref, {})
        if resolved.name not in scores:
            scores[resolved.name] = resolved(self.labels(), self.predictions(version))
        return scores[resolved.name]
