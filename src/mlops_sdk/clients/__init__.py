"""Public typed clients: validate inputs, apply retry and timeouts, return value types; backend-agnostic."""
