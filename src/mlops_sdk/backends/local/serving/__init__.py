"""The local endpoint server: one process per endpoint, several deployments side by side.

Layout of one endpoint folder (``<store>/endpoints/<name>/``):

``config.json``   host, requested port, body limit (written by the manager before the start)
``secrets.json``  scoring keys and the admin key (mode 0600; never logged)
``server.json``   pid, host and bound port (written by the server once it listens)
``state.json``    deployments, traffic and mirror maps (written by the server on every admin change)
``owner.json``    pid of the client process the server stops with (only with ``stop_with_client``)
``models/<d>/``   the MLflow model directory of each deployment (an immutable copy)
``logs/``         ``server.log``: the process's stdout/stderr

Modules: :mod:`.payloads` parses the Azure ML and MLflow scoring protocols, :mod:`.schema` checks
the parsed input against a model's signature (a 400 naming row and column), :mod:`.models` loads
MLflow models (a fast path for scikit-learn, pyfunc for everything else), :mod:`.routing` holds
weighted routing, :mod:`.app` is the ASGI application (starlette's router), :mod:`.server` the process entry point and
:mod:`.process` the manager used by the SDK to start, stop, administer and call a server.
"""

from __future__ import annotations

__all__: list[str] = []
