"""Black-box tests written from the README and docs/ alone: every promise a user can read, checked as
a user would (public API and CLI only)."""
