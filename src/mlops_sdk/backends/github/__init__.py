"""GitHub Actions environments as the place approval votes are cast (``approvals_provider = "github"``).

Not a backend of its own: the local and Azure backends hand their ``approvals`` capability to
:mod:`mlops_sdk.backends.github.approvals` when the configuration selects GitHub. httpx is imported
lazily (``pip install 'mlops-sdk[github]'``).
"""
