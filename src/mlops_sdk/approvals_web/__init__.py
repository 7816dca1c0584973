"""The approvals review page (``mlops approvals serve``): the evidence next to the Approve button.

Modules, one job each: :mod:`~mlops_sdk.approvals_web.secret` (the store's signing key),
:mod:`~mlops_sdk.approvals_web.invites` (signed single-use links and sessions),
:mod:`~mlops_sdk.approvals_web.site` (the store the page works on), :mod:`~mlops_sdk.approvals_web.pages`
(HTML), :mod:`~mlops_sdk.approvals_web.app` (the starlette app) and
:mod:`~mlops_sdk.approvals_web.server` (binding rules and uvicorn settings). Needs the ``local``
extra (starlette, uvicorn); nothing here is imported by ``import mlops_sdk``.
"""
