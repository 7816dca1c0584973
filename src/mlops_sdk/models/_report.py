"""What the validation and monitor reports share: a content digest, JSON that refuses edits, renders.

A report subclass says which fields its digest covers, what it is called in messages, how to make
a fresh one, and which module renders it (imported on first render: the plotting code stays out of
``import mlops_sdk``).
"""

from __future__ import annotations

import hashlib
import importlib
import json
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel

from mlops_sdk.core.errors import ConfigurationError

__all__ = ["DigestedReport"]

R = TypeVar("R", bound="DigestedReport")


class DigestedReport(BaseModel):
    """A frozen report whose ``digest`` is ``sha256:`` of the canonical JSON of its content fields."""

    _digest_fields: ClassVar[frozenset[str]]
    _what: ClassVar[str]
    """What the report is called in messages (``"validation report"``)."""
    _redo: ClassVar[str]
    """How to make a fresh one, said when a report was edited."""
    _renderer: ClassVar[str]
    """Module with ``to_markdown(report)`` and ``to_html(report, fragment=False)``."""

    if TYPE_CHECKING:
        digest: str  # each report declares it last, so it stays last in the JSON

    @classmethod
    def _sealed(cls: type[R], fields: dict[str, Any]) -> R:
        """The report of ``fields`` (outcome already decided) with its digest computed."""
        fields.pop("digest", None)
        draft = cls.model_validate({**fields, "digest": ""})
        return draft.model_copy(update={"digest": draft.compute_digest()})

    def compute_digest(self) -> str:
        """``sha256:<hex>`` of the canonical JSON of the report's content fields."""
        content = self.model_dump(mode="json", include=set(self._digest_fields))
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True)
        return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def to_json(self, *, indent: int | None = 2) -> str:
        """The whole report as JSON (readable back with :meth:`from_json`).

        A number that is not finite (an undefined metric) is written as ``NaN`` / ``Infinity``, as
        Python's ``json``, pandas and pydantic read it, so the report reads back with the digest it
        was made with (pydantic's own JSON writes ``null`` there, which no longer matched it).
        """
        return json.dumps(self.model_dump(mode="json"), indent=indent, ensure_ascii=False, allow_nan=True)

    @classmethod
    def from_json(cls: type[R], text: str | bytes) -> R:
        """Read a report written by :meth:`to_json`.

        Raises:
            ConfigurationError: not a report, or its content does not match its digest (edited).
        """
        try:
            data = json.loads(text)
            if isinstance(data, dict):
                data.pop("passed", None)
            report = cls.model_validate(data)
        except ValueError as error:
            raise ConfigurationError(f"not a {cls._what}: {error}", details={"field": "report"}) from error
        if report.compute_digest() != report.digest:
            raise ConfigurationError(
                f"{cls._what} content does not match its digest {report.digest}: it was edited after it was made; "
                f"{cls._redo}",
                details={"field": "report", "digest": report.digest},
            )
        return report

    def to_markdown(self) -> str:
        """A Markdown summary for an Azure DevOps / GitHub Actions step summary or a PR comment."""
        markdown: str = importlib.import_module(self._renderer).to_markdown(self)
        return markdown

    def to_html(self) -> str:
        """A self-contained HTML page (inline CSS and SVG plots, no network resources)."""
        page: str = importlib.import_module(self._renderer).to_html(self)
        return page

    def _repr_html_(self) -> str:
        """Notebook display: the HTML report's body."""
        body: str = importlib.import_module(self._renderer).to_html(self, fragment=True)
        return body
