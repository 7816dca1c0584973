"""``python -m mlops_sdk.cli`` runs the ``mlops`` command."""

from mlops_sdk.cli.main import main

main()
