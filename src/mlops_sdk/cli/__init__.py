"""The ``mlops`` command line: a thin typer app over the public clients.

Exit codes: 0 ok, 1 error, 2 usage error, 3 a gate did not pass (``not_promoted``, rejected).
"""

from mlops_sdk.cli.main import main

__all__ = ["main"]
