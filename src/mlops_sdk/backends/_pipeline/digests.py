"""Content digests and cache keys of pipeline steps, and the content-addressed output store.

A step's cache key is the sha256 of: the digest of its code snapshot (the files a run gets, see
:mod:`mlops_sdk.backends._snapshot`), its command, its literal parameters, its environment (the Azure
ML environment name, the non-secret environment variables and the *names* of the secret ones, and
the Python interpreter that runs it), its declared outputs, and the content digest of every input
not in ``cache_ignore``. A data input's digest is the sha256 of its bytes (a folder: of every
file's relative path and bytes), so a file rewritten under the same name changes the key; an input
that is not a local path (``azureml://``) counts by its data version when it has one, else by its URI.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from mlops_sdk.backends._snapshot import collect_snapshot
from mlops_sdk.core.secrets import Secret, is_masked
from mlops_sdk.models.training import TrainingInput
from mlops_sdk.models.training_pipeline import Step

__all__ = ["cache_key", "code_digest", "content_digest", "input_digest", "store_output"]

_CHUNK = 1 << 20
KEY_VERSION = 1


def _file_digest(path: Path, into: hashlib._Hash) -> None:
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            into.update(chunk)


def content_digest(path: Path) -> str:
    """``sha256:<hex>`` of a file's bytes, or of a folder's files (relative paths and bytes, sorted)."""
    digest = hashlib.sha256()
    if path.is_file():
        digest.update(b"file\0")
        _file_digest(path, digest)
        return "sha256:" + digest.hexdigest()
    digest.update(b"folder\0")
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        inner = hashlib.sha256()
        _file_digest(file, inner)
        digest.update(inner.digest())
    return "sha256:" + digest.hexdigest()


def code_digest(code: Path, *, exclude: Iterable[Path] = ()) -> str:
    """``sha256:<hex>`` of the files a run of ``code`` gets (the snapshot rules, ignore files honoured)."""
    snapshot = collect_snapshot(code, exclude=exclude)
    digest = hashlib.sha256()
    for rel in snapshot.files:
        digest.update(rel.as_posix().encode() + b"\0")
        inner = hashlib.sha256()
        _file_digest(snapshot.root / rel, inner)
        digest.update(inner.digest())
    return "sha256:" + digest.hexdigest()


def local_path(uri: str) -> Path | None:
    """The local path an input URI names, ``None`` for a remote one."""
    if uri.startswith("file://"):
        return Path(unquote(urlsplit(uri).path))
    if "://" in uri:
        return None
    return Path(uri).expanduser()


def input_digest(item: TrainingInput) -> str:
    """What an input contributes to a cache key: its value, its content digest, or its data version / URI."""
    if item.is_literal:
        return "literal:" + json.dumps(item.value)
    path = local_path(item.uri or "")
    if path is not None and path.exists():
        return content_digest(path.resolve())
    return f"version:{item.data_version}" if item.data_version else f"uri:{item.uri}"


def cache_key(
    step: Step,
    *,
    code: str,
    inputs: Mapping[str, str],
) -> str:
    """The step's cache key from its code digest and its inputs' digests (``cache_ignore``'d ones left out)."""
    environment = {
        name: "<secret>" if isinstance(value, Secret) or is_masked(str(value)) else str(value)
        for name, value in step.environment_variables.items()
    }
    material = {
        "v": KEY_VERSION,
        "code": code,
        "command": step.command,
        "environment": step.environment,
        "environment_variables": environment,
        "python": [sys.version, os.path.realpath(sys.executable)],
        "outputs": {name: output.type for name, output in step.outputs.items()},
        "inputs": {name: digest for name, digest in inputs.items() if name not in step.cache_ignore},
    }
    return "sha256:" + hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def store_output(source: Path, root: Path) -> tuple[str, Path]:
    """Copy a step output into the content-addressed store under ``root``; returns (digest, its path there).

    The copy is made in a temporary folder and renamed into place, so the store never holds a partial
    output; storing the same content twice keeps the first copy. Files are hard-linked when possible.
    """
    digest = content_digest(source)
    final = root / digest.replace(":", "-")
    target = final / source.name if source.is_file() else final
    if final.exists():
        return digest, target
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".partial-{uuid.uuid4().hex}"
    try:
        if source.is_file():
            staging.mkdir()
            _link_or_copy(source, staging / source.name)
        else:
            shutil.copytree(source, staging, copy_function=_link_or_copy)
        try:
            staging.rename(final)
        except OSError:
            if not final.exists():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return digest, target


def _link_or_copy(source: str | Path, destination: str | Path) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)
