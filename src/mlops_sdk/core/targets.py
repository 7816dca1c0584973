"""Target URIs (contract): ``local://<folder>`` and ``azureml://subscriptions/.../workspaces/<ws>``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

from mlops_sdk.core.errors import ConfigurationError
from mlops_sdk.core.input_spec import InputSpec

__all__ = ["AzureMLTarget", "LocalTarget", "Target", "split_scheme"]


# A scheme followed by ':' but not '://' (`local:/x`, `azureml:subscriptions/...`); one letter is a
# Windows drive (`C:/data`), not a scheme.
_HALF_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]+):")


def split_scheme(uri: str) -> str:
    """Return the scheme of ``uri`` (``"local"`` for ``local://.mlops``); error if there is none.

    Raises:
        ConfigurationError: ``uri`` has no scheme, or a malformed one (``local:/x``); the latter
            carries the likely intended URI in ``details["suggestion"]``.
    """
    if "://" not in uri:
        half = _HALF_SCHEME.match(uri)
        if half is not None:
            rest = uri.split(":", 1)[1]
            suggestion = f"{half['scheme']}://{rest[1:] if rest.startswith('//') else rest}"
            raise ConfigurationError(
                f"target {uri!r} is malformed: the scheme must be followed by '://'; did you mean {suggestion!r}?",
                details={"target": uri, "suggestion": suggestion},
            )
        raise ConfigurationError(
            f"target {uri!r} has no scheme; write it as local://<folder> or "
            "azureml://subscriptions/<sub>/resourceGroups/<rg>/workspaces/<ws>",
            details={"target": uri},
        )
    return uri.split("://", 1)[0].lower()


class Target(InputSpec):
    """Where a backend works. Subclasses parse one scheme."""

    scheme: ClassVar[str]
    uri: str

    @classmethod
    def parse(cls, uri: str) -> Target:
        """Parse ``uri``; a malformed one is a :class:`ConfigurationError` showing the expected form."""
        raise NotImplementedError  # pragma: no cover - abstract

    def __str__(self) -> str:
        return self.uri


class LocalTarget(Target):
    """``local://<folder>``: the embedded backend storing everything under ``folder``.

    ``local://.mlops`` is relative (to the config file's folder or the working directory),
    ``local:///abs/path`` absolute, and ``local://`` means ``.mlops``.
    """

    scheme: ClassVar[str] = "local"
    folder: Path

    @classmethod
    def parse(cls, uri: str) -> LocalTarget:
        """Parse a ``local://`` URI."""
        if split_scheme(uri) != cls.scheme:
            raise ConfigurationError(f"{uri!r} is not a local:// target")
        rest = uri.split("://", 1)[1]
        if any(ord(character) < 32 for character in rest):
            raise ConfigurationError(
                f"local target {uri!r} holds a control character (NUL, newline, ...); write local://<folder>",
                details={"field": "target", "value": uri},
            )
        folder = Path(rest) if rest else Path(".mlops")
        return cls(uri=f"local://{rest or '.mlops'}", folder=folder)

    def resolved(self, base_dir: Path) -> LocalTarget:
        """Return the target with an absolute folder (relative folders resolve against ``base_dir``)."""
        folder = self.folder if self.folder.is_absolute() else (base_dir / self.folder)
        return LocalTarget(uri=self.uri, folder=folder.resolve())


_AZUREML = re.compile(
    r"^subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)"
    r"(?:/providers/microsoft\.machinelearningservices)?/workspaces/(?P<ws>[^/]+)/?$",
    re.IGNORECASE,
)


class AzureMLTarget(Target):
    """``azureml://subscriptions/<sub>/resourceGroups/<rg>/workspaces/<ws>``: an Azure ML workspace."""

    scheme: ClassVar[str] = "azureml"
    subscription_id: str
    resource_group: str
    workspace: str

    @classmethod
    def parse(cls, uri: str) -> AzureMLTarget:
        """Parse an ``azureml://`` URI (the ARM form with ``providers/Microsoft.MachineLearningServices`` too)."""
        if split_scheme(uri) != cls.scheme:
            raise ConfigurationError(f"{uri!r} is not an azureml:// target")
        parts = urlsplit(uri)
        match = _AZUREML.match(f"{parts.netloc}{parts.path}")
        if match is None:
            raise ConfigurationError(
                f"target {uri!r} is not a workspace URI; expected "
                "azureml://subscriptions/<subscription-id>/resourceGroups/<resource-group>/workspaces/<workspace>",
                details={"target": uri},
            )
        return cls(
            uri=uri,
            subscription_id=match["sub"],
            resource_group=match["rg"],
            workspace=match["ws"],
        )

    @property
    def resource_id(self) -> str:
        """The workspace's ARM resource id."""
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace}"
        )
