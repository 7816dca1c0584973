"""A griffe extension for the API reference: Sphinx roles in docstrings become inline code.

The SDK's docstrings use Sphinx cross-reference roles (``:class:`ModelVersion```,
``:meth:`~mlops_sdk.Operation.result```), which mkdocstrings would show as raw text. This rewrites
each role to inline code of its target, shortened like Sphinx does for a leading ``~``.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|data|mod|exc|obj|const|ref):`(~?)([^`<]+?)(?:\s*<([^>]+)>)?`")


def _replace(match: re.Match[str]) -> str:
    tilde, text, target = match[1], match[2].strip(), match[3]
    if target:  # :role:`shown text <target>`
        return f"`{text}`"
    if tilde:
        text = text.rsplit(".", 1)[-1]
    return f"`{text}`"


def rewrite(text: str) -> str:
    """``text`` with every Sphinx role replaced by inline code."""
    return _ROLE.sub(_replace, text)


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles in every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Called for each module, class, function and attribute."""
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
