"""Frozen pydantic value types: specs users build, results they receive."""
