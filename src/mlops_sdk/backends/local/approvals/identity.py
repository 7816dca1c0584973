"""Who is voting on this machine: the OS account, its groups, and git ``user.email`` when set.

The account comes from the process's real user id (``pwd``), not from ``$USER``/``$LOGNAME``,
which any shell can set: claiming another identity must go through delegation, which the policy
has to allow and the audit trail records.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import subprocess
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

from mlops_sdk.models.approvals import ApproverIdentity

__all__ = ["acting_as", "git_email", "os_identity", "verified_identity"]

_VERIFIED: ContextVar[ApproverIdentity | None] = ContextVar("mlops_verified_voter", default=None)


def _account() -> tuple[str, int | None]:
    try:
        import pwd

        entry = pwd.getpwuid(os.getuid())
        return entry.pw_name, entry.pw_gid
    except (ImportError, KeyError, AttributeError):  # Windows, or a uid without a passwd entry
        try:
            return getpass.getuser(), None
        except (KeyError, OSError):
            return "unknown", None


def _groups(user: str, gid: int | None) -> tuple[str, ...]:
    if gid is None:
        return ()
    try:
        import grp

        ids = os.getgrouplist(user, gid)
    except (ImportError, AttributeError, OSError, KeyError):
        return ()
    names = []
    for group_id in ids:
        try:
            names.append(grp.getgrgid(group_id).gr_name)
        except KeyError:
            continue
    return tuple(sorted(set(names)))


def git_email(cwd: Path | None = None) -> str | None:
    """``git config user.email`` (repository, then global), or ``None`` without git or a setting."""
    try:
        completed = subprocess.run(
            ["git", "config", "--get", "user.email"],
            cwd=cwd or Path.cwd(),
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = completed.stdout.strip()
    return value or None if completed.returncode == 0 else None


def os_identity(cwd: Path | None = None) -> ApproverIdentity:
    """The identity of the OS account running this process."""
    user, gid = _account()
    return ApproverIdentity(name=user, email=git_email(cwd), groups=_groups(user, gid), source="os")


def verified_identity() -> ApproverIdentity | None:
    """The identity set by :func:`acting_as` in this context, if any."""
    return _VERIFIED.get()


@contextlib.contextmanager
def acting_as(identity: ApproverIdentity) -> Iterator[ApproverIdentity]:
    """Record votes made inside the block as ``identity`` instead of the OS account.

    Only for a caller that has itself verified who is voting: the review page, after checking a
    signed, single-use invite link bound to that identity. Every policy rule (listed approver,
    self-approval, delegation) and the audit log apply exactly as to an OS user.
    """
    token = _VERIFIED.set(identity)
    try:
        yield identity
    finally:
        _VERIFIED.reset(token)
