"""Monitoring computations shared by every backend: signals over captured traffic (see :mod:`.engine`)."""
